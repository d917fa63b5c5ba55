package auth

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth/auth0test"
)

func TestAuth0BearerVerdicts(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	now := e.clock.Now()
	// The first valid token loads the key set; every row after runs inside
	// the refetch window, so the forged ones cost no fetch.
	p, err := e.a.Bearer(auth0Ctx, e.mint(nil))
	e.check(p, err, 0, "")
	want := &Principal{ClientID: auth0test.DefaultClientID, Subject: auth0test.DefaultClientID + "@clients", Method: MethodAuth0Bearer}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v, want %+v", p, want)
	}

	valid := e.mint(nil)
	parts := strings.Split(valid, ".")
	other := strings.Split(e.mint(map[string]any{"azp": "someone-else"}), ".")

	for _, tc := range []struct {
		name  string
		token string
		kind  Kind
		code  string
	}{
		{"valid", valid, 0, ""},
		{"array audience", e.mint(map[string]any{"aud": []string{"https://x.example/", auth0Audience}}), 0, ""},
		{"expired within the skew allowance", e.mint(map[string]any{"exp": now.Add(-10 * time.Second)}), 0, ""},
		{"wrong audience", e.mint(map[string]any{"aud": "https://other.example/api"}), Forbidden, "audience_mismatch"},
		{"wrong audience array", e.mint(map[string]any{"aud": []string{"https://a.example/", "https://b.example/"}}), Forbidden, "audience_mismatch"},
		{"expired", e.mint(map[string]any{"exp": now.Add(-time.Hour)}), Unauthenticated, "token_expired"},
		{"no exp", e.mint(map[string]any{"exp": nil}), Unauthenticated, "token_expired"},
		{"wrong issuer", e.mint(map[string]any{"iss": "https://evil.example/"}), Unauthenticated, "token_invalid"},
		{"issuer without the slash", e.mint(map[string]any{"iss": strings.TrimSuffix(e.iss.URL, "/")}), Unauthenticated, "token_invalid"},
		{"alg none", e.mint(nil, auth0test.WithAlgNone()), Unauthenticated, "token_invalid"},
		{"HS256 with the public key PEM", e.mint(nil, auth0test.WithHS256PublicKey()), Unauthenticated, "token_invalid"},
		{"HS256 with the public key DER", e.mint(nil, auth0test.WithHS256PublicKeyDER()), Unauthenticated, "token_invalid"},
		{"foreign key, known kid", e.mint(nil, auth0test.WithForeignKey()), Unauthenticated, "token_invalid"},
		{"unknown kid", e.mint(nil, auth0test.WithKID("nope")), Unauthenticated, "token_invalid"},
		{"payload swapped", parts[0] + "." + other[1] + "." + parts[2], Unauthenticated, "token_invalid"},
		{"signature stripped", parts[0] + "." + parts[1] + ".", Unauthenticated, "token_invalid"},
		{"issued in the future", e.mint(map[string]any{"iat": now.Add(time.Hour), "exp": now.Add(2 * time.Hour)}), Unauthenticated, "token_invalid"},
		{"not a JWT", "not-a-jwt", Unauthenticated, "token_invalid"},
		{"garbage segments", "a.b.c", Unauthenticated, "token_invalid"},
		{"huge", strings.Repeat("a", maxTokenLen+1), Unauthenticated, "token_invalid"},
		{"empty", "", Unauthenticated, "credentials_missing"},
		{"user token, not client-credentials", e.mint(map[string]any{"gty": nil}), Forbidden, "grant_type_not_allowed"},
		{"no azp", e.mint(map[string]any{"azp": nil, "sub": nil}), Forbidden, "client_not_allowed"},
		{"scope claim not a string", e.mint(map[string]any{"scope": 42}), Unauthenticated, "token_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			e.remember(tc.token)
			p, err := e.a.Bearer(auth0Ctx, tc.token)
			e.check(p, err, tc.kind, tc.code)
		})
	}
	e.counts(0, 1, 1)
}

func TestAuth0BearerClientsAndScopes(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) {
		c.AllowedClients = []string{" c1 ", "c3"}
		c.RequiredScope = "regenerate"
	})
	for _, tc := range []struct {
		name   string
		claims map[string]any
		code   string
		scopes []string
	}{
		{"allowed, scope", map[string]any{"azp": "c1", "scope": "read regenerate"}, "", []string{"read", "regenerate"}},
		{"allowed, permission", map[string]any{"azp": "c3", "permissions": []string{"regenerate"}}, "", []string{"regenerate"}},
		{"both", map[string]any{"azp": "c1", "scope": "regenerate", "permissions": []string{"regenerate", "x"}}, "", []string{"regenerate", "x"}},
		{"client not allowed", map[string]any{"azp": "c2", "scope": "regenerate"}, "client_not_allowed", nil},
		{"sub names an allowed client, azp does not", map[string]any{"azp": "c2", "sub": "c1@clients", "scope": "regenerate"}, "client_not_allowed", nil},
		{"scope missing", map[string]any{"azp": "c1", "scope": "read"}, "scope_missing", nil},
		{"scope is a prefix", map[string]any{"azp": "c1", "scope": "regenerate:all"}, "scope_missing", nil},
		{"no scope", map[string]any{"azp": "c1"}, "scope_missing", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			p, err := e.a.Bearer(auth0Ctx, e.mint(tc.claims))
			if tc.code != "" {
				e.check(p, err, Forbidden, tc.code)
				return
			}
			e.check(p, err, 0, "")
			if !reflect.DeepEqual(p.Scopes, tc.scopes) || p.ClientID != tc.claims["azp"] {
				t.Fatalf("got %+v", p)
			}
		})
	}
}

func BenchmarkBearer(b *testing.B) {
	e := newAuth0Env(b, nil)
	tok := e.mint(map[string]any{"scope": "regenerate"})
	if _, err := e.a.Bearer(auth0Ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.a.Bearer(auth0Ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
