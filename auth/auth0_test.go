package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/folio-cms/folio/internal/logbuf"

	"github.com/folio-cms/folio/auth/auth0test"
)

const auth0Audience = "https://folio.example/api"

// auth0Clock is the injected clock: every interval in Auth0 is measured with
// it, so tests move time instead of sleeping.
type auth0Clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *auth0Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *auth0Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// auth0Env is one test's issuer, clock and Auth0, plus every secret and token
// the test used: none may appear in an error or a log line.
type auth0Env struct {
	t     testing.TB
	iss   *auth0test.Issuer
	clock *auth0Clock
	logs  *logbuf.Buffer
	a     *Auth0
	sec   *auth0Secrets
	// async: the checks run on another goroutine than the test's, where
	// FailNow is not allowed.
	async bool
}

type auth0Secrets struct {
	mu   sync.Mutex
	list []string
}

// in is e for a subtest.
func (e *auth0Env) in(t testing.TB) *auth0Env {
	c := *e
	c.t = t
	return &c
}

// goroutine is e for checks made on another goroutine.
func (e *auth0Env) goroutine() *auth0Env {
	c := *e
	c.async = true
	return &c
}

func (e *auth0Env) fail(format string, args ...any) {
	e.t.Helper()
	if e.async {
		e.t.Errorf(format, args...)
		return
	}
	e.t.Fatalf(format, args...)
}

func newAuth0Env(t testing.TB, configure func(*Auth0Config)) *auth0Env {
	t.Helper()
	e := &auth0Env{t: t, iss: auth0test.New(auth0Audience), clock: &auth0Clock{t: time.Now()}, logs: &logbuf.Buffer{}, sec: &auth0Secrets{}}
	t.Cleanup(e.iss.Close)
	e.iss.Now = e.clock.Now
	cfg := Auth0Config{
		IssuerURL: e.iss.URL,
		Audience:  auth0Audience,
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       e.clock.Now,
	}
	if configure != nil {
		configure(&cfg)
	}
	a, err := NewAuth0(cfg)
	if err != nil {
		t.Fatalf("NewAuth0: %v", err)
	}
	e.a = a
	t.Cleanup(func() {
		logs := e.logs.String()
		for _, s := range e.allSecrets() {
			if strings.Contains(logs, s) {
				t.Errorf("a secret or token appears in the logs:\n%s", logs)
				return
			}
		}
	})
	return e
}

// remember records secrets and tokens that must never be shown. Strings
// too short to be credentials (test garbage such as "a.b.c") are skipped.
func (e *auth0Env) remember(s ...string) {
	e.sec.mu.Lock()
	defer e.sec.mu.Unlock()
	for _, x := range s {
		if len(x) >= 16 {
			e.sec.list = append(e.sec.list, x)
		}
	}
}

func (e *auth0Env) allSecrets() []string {
	e.sec.mu.Lock()
	defer e.sec.mu.Unlock()
	out := append([]string(nil), e.sec.list...)
	for _, s := range e.sec.list {
		// A token's signature alone is a secret too.
		if i := strings.LastIndexByte(s, '.'); i >= 0 && len(s)-i > 8 {
			out = append(out, s[i+1:])
		}
	}
	return out
}

// client registers an M2M application with a long random secret.
func (e *auth0Env) client(id string, scopes ...string) string {
	secret := "secret-" + id + "-" + auth0RandomHex(16)
	e.iss.AddClient(id, secret, scopes...)
	e.remember(secret)
	return secret
}

func (e *auth0Env) mint(claims map[string]any, opts ...auth0test.MintOption) string {
	tok := e.iss.Mint(claims, opts...)
	e.remember(tok)
	return tok
}

func auth0RandomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// check asserts the outcome of a call: want "" means success, otherwise
// the *Error's code, with kind. Every error is checked for leaked secrets.
func (e *auth0Env) check(p *Principal, err error, kind Kind, code string) {
	e.t.Helper()
	if err != nil {
		for _, s := range e.allSecrets() {
			if strings.Contains(err.Error(), s) {
				e.fail("error leaks a secret or token: %v", err)
				return
			}
		}
	}
	if code == "" {
		if err != nil {
			e.fail("unexpected error: %v", err)
			return
		}
		if p == nil {
			e.fail("nil principal without an error")
			return
		}
		return
	}
	if p != nil {
		e.fail("principal %+v with an expected error %s", p, code)
		return
	}
	var ae *Error
	if !errors.As(err, &ae) {
		e.fail("want *Error %s, got %T %v", code, err, err)
		return
	}
	for _, s := range e.allSecrets() {
		if strings.Contains(ae.Reason, s) {
			e.fail("reason leaks a secret or token: %q", ae.Reason)
			return
		}
	}
	if ae.Kind != kind || ae.Code != code {
		e.fail("want kind %d code %s, got kind %d code %s (%v)", kind, code, ae.Kind, ae.Code, err)
		return
	}
}

func (e *auth0Env) counts(token, jwks, discovery int) {
	e.t.Helper()
	if got := e.iss.TokenRequests(); token >= 0 && got != token {
		e.t.Errorf("token requests: got %d, want %d", got, token)
	}
	if got := e.iss.JWKSRequests(); jwks >= 0 && got != jwks {
		e.t.Errorf("JWKS requests: got %d, want %d", got, jwks)
	}
	if got := e.iss.DiscoveryRequests(); discovery >= 0 && got != discovery {
		e.t.Errorf("discovery requests: got %d, want %d", got, discovery)
	}
}

var auth0Ctx = context.Background()

func TestAuth0BasicAccepted(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	secret := e.client("c1", "regenerate", "read")
	p, err := e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	want := &Principal{ClientID: "c1", Subject: "c1@clients", Scopes: []string{"regenerate", "read"}, Method: MethodAuth0Basic}
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("got %+v, want %+v", p, want)
	}
	e.counts(1, 1, 1)

	// The caller owns its copy: changing it changes nothing cached.
	p.Scopes[0], p.ClientID = "mutated", "mutated"
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	if !reflect.DeepEqual(p, want) {
		t.Fatalf("cached principal changed: %+v", p)
	}
	e.counts(1, 1, 1)
}

func TestAuth0BasicOneExchange(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	secret := e.client("c1", "regenerate")
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for range 1000 {
		wg.Go(func() {
			if _, err := e.a.Basic(auth0Ctx, "c1", secret); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		e.check(nil, err, 0, "")
	}
	for range 1000 {
		p, err := e.a.Basic(auth0Ctx, "c1", secret)
		e.check(p, err, 0, "")
	}
	e.counts(1, 1, 1)
}

func TestAuth0BasicRefreshBeforeExpiry(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	secret := e.client("c1")
	p, err := e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	// Auth0 tokens live 86,400 s; the cache serves them until one minute
	// before they expire.
	e.clock.Advance(24*time.Hour - 2*time.Minute)
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	e.counts(1, -1, -1)
	e.clock.Advance(90 * time.Second)
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	e.counts(2, -1, -1)
}

func TestAuth0BasicWrongSecret(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	secret := e.client("c1", "regenerate")
	wrong := "wrong-" + auth0RandomHex(16)
	e.remember(wrong)

	p, err := e.a.Basic(auth0Ctx, "c1", wrong)
	e.check(p, err, Unauthenticated, "invalid_client_credentials")
	e.counts(1, 0, 1)

	// Remembered: neither a retry nor a burst of retries reaches Auth0.
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			e := e.goroutine()
			p, err := e.a.Basic(auth0Ctx, "c1", wrong)
			e.check(p, err, Unauthenticated, "invalid_client_credentials")
		})
	}
	wg.Wait()
	e.counts(1, 0, 1)

	// The right secret is another cache key.
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	e.counts(2, 1, 1)

	// And the wrong secret does not get the right secret's token.
	p, err = e.a.Basic(auth0Ctx, "c1", wrong)
	e.check(p, err, Unauthenticated, "invalid_client_credentials")
	e.counts(2, 1, 1)

	e.clock.Advance(DefaultAuth0FailureTTL)
	p, err = e.a.Basic(auth0Ctx, "c1", wrong)
	e.check(p, err, Unauthenticated, "invalid_client_credentials")
	e.counts(3, 1, 1)
}

func TestAuth0BasicUnknownClientAndMissing(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	s := "secret-" + auth0RandomHex(16)
	e.remember(s)
	p, err := e.a.Basic(auth0Ctx, "nobody", s)
	e.check(p, err, Unauthenticated, "invalid_client_credentials")
	p, err = e.a.Basic(auth0Ctx, "", s)
	e.check(p, err, Unauthenticated, "credentials_missing")
	p, err = e.a.Basic(auth0Ctx, "c1", "")
	e.check(p, err, Unauthenticated, "credentials_missing")
	p, err = e.a.Basic(auth0Ctx, "c1", strings.Repeat("x", maxSecretLen+1))
	e.check(p, err, Unauthenticated, "invalid_client_credentials")
	e.counts(1, 0, 1)
}

func TestAuth0BasicAudienceNotAllowed(t *testing.T) {
	t.Parallel()
	// folio asks for an API this application has no client grant for.
	e := newAuth0Env(t, func(c *Auth0Config) { c.Audience = "https://other.example/api" })
	secret := e.client("c1")
	p, err := e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, Forbidden, "audience_not_allowed")
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, Forbidden, "audience_not_allowed")
	e.counts(1, 0, 1)
}

func TestAuth0BasicThrottled(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) { c.ExchangeRate, c.ExchangeBurst = 1, 2 })
	try := func(kind Kind, code string) {
		t.Helper()
		s := "random-" + auth0RandomHex(16)
		e.remember(s)
		p, err := e.a.Basic(auth0Ctx, "c-"+auth0RandomHex(4), s)
		e.check(p, err, kind, code)
	}
	try(Unauthenticated, "invalid_client_credentials")
	try(Unauthenticated, "invalid_client_credentials")
	try(Throttled, "auth0_exchange_throttled")
	try(Throttled, "auth0_exchange_throttled")
	e.counts(2, 0, 1)
	e.clock.Advance(time.Second)
	try(Unauthenticated, "invalid_client_credentials")
	e.counts(3, 0, 1)

	// A throttled attempt is not remembered: the real client gets through
	// once the bucket refills.
	secret := e.client("c1")
	p, err := e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, Throttled, "auth0_exchange_throttled")
	e.clock.Advance(time.Second)
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	e.counts(4, 1, 1)
}

func TestAuth0BasicClientNotAllowed(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) { c.AllowedClients = []string{"c1"} })
	e.client("c1")
	secret := e.client("c2")
	// Refused before the exchange: no Auth0 quota spent on it.
	p, err := e.a.Basic(auth0Ctx, "c2", secret)
	e.check(p, err, Unauthenticated, "invalid_client_credentials")
	e.counts(0, 0, 0)
}

func TestAuth0BasicScopeMissing(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) { c.RequiredScope = "regenerate" })
	secret := e.client("c1", "read")
	p, err := e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, Forbidden, "scope_missing")
	// The token is cached with its verdict: no second exchange.
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, Forbidden, "scope_missing")
	e.counts(1, 1, 1)

	good := e.client("c2", "read", "regenerate")
	p, err = e.a.Basic(auth0Ctx, "c2", good)
	e.check(p, err, 0, "")
}

func TestAuth0BasicCacheBounded(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) { c.MaxCachedTokens, c.ExchangeBurst = 3, 10 })
	secrets := make([]string, 5)
	for i := range secrets {
		id := fmt.Sprintf("c%d", i)
		secrets[i] = e.client(id)
		p, err := e.a.Basic(auth0Ctx, id, secrets[i])
		e.check(p, err, 0, "")
		e.clock.Advance(time.Second)
	}
	e.a.cacheMu.RLock()
	n := len(e.a.cache)
	e.a.cacheMu.RUnlock()
	if n != 3 {
		t.Fatalf("cache holds %d entries, want 3", n)
	}
	// The newest stayed, the oldest went.
	p, err := e.a.Basic(auth0Ctx, "c4", secrets[4])
	e.check(p, err, 0, "")
	e.counts(5, -1, -1)
	p, err = e.a.Basic(auth0Ctx, "c0", secrets[0])
	e.check(p, err, 0, "")
	e.counts(6, -1, -1)
}

func TestAuth0BasicTokenEndpointDown(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	secret := e.client("c1")
	p, err := e.a.Bearer(auth0Ctx, e.mint(nil)) // discovery and keys while up
	e.check(p, err, 0, "")
	e.iss.SetDown(true)
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, Unavailable, "auth0_unavailable")
	// Not remembered: Auth0 is asked again as soon as it is back.
	e.iss.SetDown(false)
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	e.counts(2, 1, 1)
}

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

func TestAuth0UnknownKidFlood(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	p, err := e.a.Bearer(auth0Ctx, e.mint(nil))
	e.check(p, err, 0, "")
	e.counts(0, 1, 1)

	flood := func() {
		var wg sync.WaitGroup
		for range 100 {
			tok := e.mint(nil, auth0test.WithKID(auth0RandomHex(8)))
			wg.Go(func() {
				e := e.goroutine()
				p, err := e.a.Bearer(auth0Ctx, tok)
				e.check(p, err, Unauthenticated, "token_invalid")
			})
		}
		wg.Wait()
	}
	flood()
	e.counts(0, 1, 1) // inside the window: no fetch at all

	e.clock.Advance(DefaultAuth0JWKSRefetch)
	flood()
	e.counts(0, 2, 1) // a new window: exactly one fetch

	// Known keys keep working throughout.
	p, err = e.a.Bearer(auth0Ctx, e.mint(nil))
	e.check(p, err, 0, "")
	e.counts(0, 2, 1)
}

func TestAuth0KeyRotation(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	old := e.mint(nil)
	p, err := e.a.Bearer(auth0Ctx, old)
	e.check(p, err, 0, "")

	e.iss.RotateKey()
	rotated := e.mint(nil)
	// Within the refetch window the new kid is unknown and not fetched.
	p, err = e.a.Bearer(auth0Ctx, rotated)
	e.check(p, err, Unauthenticated, "token_invalid")
	e.counts(0, 1, 1)

	e.clock.Advance(DefaultAuth0JWKSRefetch)
	p, err = e.a.Bearer(auth0Ctx, rotated)
	e.check(p, err, 0, "")
	p, err = e.a.Bearer(auth0Ctx, old)
	e.check(p, err, 0, "")
	e.counts(0, 2, 1)
}

func TestAuth0DownAtStart(t *testing.T) {
	t.Parallel()
	e := &auth0Env{t: t, sec: &auth0Secrets{}}
	iss := auth0test.New(auth0Audience)
	t.Cleanup(iss.Close)
	iss.SetDown(true)
	clock := &auth0Clock{t: time.Now()}
	iss.Now = clock.Now
	e.iss, e.clock, e.logs = iss, clock, &logbuf.Buffer{}
	a, err := NewAuth0(Auth0Config{IssuerURL: iss.URL, Audience: auth0Audience, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(e.logs, nil))})
	if err != nil {
		t.Fatalf("NewAuth0 must not need Auth0: %v", err)
	}
	e.a = a
	e.counts(0, 0, 0)

	secret := e.client("c1")
	tok := e.mint(nil)
	p, err := a.Bearer(auth0Ctx, tok)
	e.check(p, err, Unavailable, "auth0_unavailable")
	p, err = a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, Unavailable, "auth0_unavailable")
	// A malformed token is refused on its own, Auth0 or not.
	p, err = a.Bearer(auth0Ctx, e.mint(nil, auth0test.WithAlgNone()))
	e.check(p, err, Unauthenticated, "token_invalid")
	e.counts(0, 0, 1) // one discovery attempt per retry interval

	iss.SetDown(false)
	p, err = a.Bearer(auth0Ctx, tok)
	e.check(p, err, Unavailable, "auth0_unavailable")
	e.counts(0, 0, 1)

	clock.Advance(DefaultAuth0DiscoveryRetry)
	p, err = a.Bearer(auth0Ctx, tok)
	e.check(p, err, 0, "")
	p, err = a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	e.counts(1, 1, 2)
	if !strings.Contains(e.logs.String(), "discovery failed") {
		t.Errorf("the failed discovery is not logged:\n%s", e.logs)
	}
	for _, s := range e.allSecrets() {
		if strings.Contains(e.logs.String(), s) {
			t.Fatalf("logs leak a secret:\n%s", e.logs)
		}
	}
}

func TestAuth0KeySetDown(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	known := e.mint(nil)
	p, err := e.a.Bearer(auth0Ctx, known)
	e.check(p, err, 0, "")

	e.iss.SetDown(true)
	e.clock.Advance(DefaultAuth0JWKSRefetch)
	// A token needing a fetch: the fetch fails, so it is Auth0's fault.
	p, err = e.a.Bearer(auth0Ctx, e.mint(nil, auth0test.WithKID("new")))
	e.check(p, err, Unavailable, "auth0_unavailable")
	e.counts(0, 2, 1)
	// Tokens signed by cached keys still verify while Auth0 is down.
	p, err = e.a.Bearer(auth0Ctx, known)
	e.check(p, err, 0, "")
	// Right after a failed fetch, no new fetch, and still Unavailable.
	p, err = e.a.Bearer(auth0Ctx, e.mint(nil, auth0test.WithKID("newer")))
	e.check(p, err, Unavailable, "auth0_unavailable")
	e.counts(0, 2, 1)

	e.iss.SetDown(false)
	e.clock.Advance(DefaultAuth0DiscoveryRetry)
	p, err = e.a.Bearer(auth0Ctx, e.mint(nil, auth0test.WithKID("newest")))
	e.check(p, err, Unauthenticated, "token_invalid")
	e.counts(0, 3, 1)
}

func TestAuth0IssuerMustMatchExactly(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) { c.IssuerURL = strings.TrimSuffix(c.IssuerURL, "/") })
	p, err := e.a.Bearer(auth0Ctx, e.mint(nil))
	e.check(p, err, Unavailable, "auth0_unavailable")
	if logs := e.logs.String(); !strings.Contains(logs, "no trailing slash") || !strings.Contains(logs, "does not match") {
		t.Errorf("the misconfiguration is not explained in the logs:\n%s", logs)
	}
}

func TestAuth0NoRedirects(t *testing.T) {
	t.Parallel()
	iss := auth0test.New(auth0Audience)
	t.Cleanup(iss.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, iss.URL+strings.TrimPrefix(r.URL.Path, "/"), http.StatusFound)
	}))
	t.Cleanup(redirector.Close)
	a, err := NewAuth0(Auth0Config{IssuerURL: redirector.URL + "/", Audience: auth0Audience,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Bearer(auth0Ctx, iss.Mint(nil))
	var ae *Error
	if !errors.As(err, &ae) || ae.Kind != Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
	if n := iss.DiscoveryRequests(); n != 0 {
		t.Fatalf("the redirect was followed (%d discovery requests)", n)
	}
}

func TestNewAuth0Config(t *testing.T) {
	t.Parallel()
	for _, cfg := range []Auth0Config{
		{Audience: "a"},
		{IssuerURL: "tenant.auth0.com", Audience: "a"},
		{IssuerURL: "ftp://tenant.auth0.com/", Audience: "a"},
		{IssuerURL: "https://user:pw@tenant.auth0.com/", Audience: "a"},
		{IssuerURL: "https://tenant.auth0.com/"},
		{IssuerURL: "https://tenant.auth0.com/", Audience: "a", RequiredScope: "a b"},
		{IssuerURL: "https://tenant.auth0.com/", Audience: "a", ExchangeRate: -1},
	} {
		if _, err := NewAuth0(cfg); err == nil {
			t.Errorf("%+v: accepted", cfg)
		}
	}
	given := &http.Client{}
	a, err := NewAuth0(Auth0Config{IssuerURL: "https://tenant.auth0.com/", Audience: "a", HTTPClient: given,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if given.CheckRedirect != nil || given.Timeout != 0 {
		t.Error("the caller's client was modified")
	}
	if a.client.CheckRedirect == nil || a.client.Timeout != DefaultAuth0HTTPTimeout {
		t.Errorf("client: timeout %v, redirect check set %v", a.client.Timeout, a.client.CheckRedirect != nil)
	}
}

func TestAuth0ConcurrentMixed(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) { c.ExchangeBurst = 100 })
	secrets := map[string]string{}
	for i := range 5 {
		id := fmt.Sprintf("c%d", i)
		secrets[id] = e.client(id, "regenerate")
	}
	tok := e.mint(nil)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			e := e.goroutine()
			id := fmt.Sprintf("c%d", i%5)
			p, err := e.a.Basic(auth0Ctx, id, secrets[id])
			e.check(p, err, 0, "")
			p, err = e.a.Bearer(auth0Ctx, tok)
			e.check(p, err, 0, "")
		})
	}
	wg.Wait()
	e.counts(5, 1, 1)
}

func TestAuth0CanceledContext(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	secret := e.client("c1")
	c, cancel := context.WithCancel(auth0Ctx)
	cancel()
	p, err := e.a.Basic(c, "c1", secret)
	if err != nil {
		e.check(p, err, Unavailable, "auth0_unavailable")
	}
	// The shared exchange was not canceled with the first caller.
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	e.counts(1, -1, -1)
}

func TestScrub(t *testing.T) {
	t.Parallel()
	tok := "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXNlY3JldA"
	err := scrub(fmt.Errorf("wrapped: %s and %s", "s3cret", tok[strings.LastIndexByte(tok, '.')+1:]), "s3cret", tok)
	if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "c2lnbmF0dXJlLXNlY3JldA") {
		t.Fatalf("not scrubbed: %v", err)
	}
	orig := errors.New("harmless")
	if scrub(orig, "s3cret") != orig {
		t.Fatal("a clean error was replaced")
	}
}

func BenchmarkBasicCached(b *testing.B) {
	e := newAuth0Env(b, nil)
	secret := e.client("c1", "regenerate")
	if _, err := e.a.Basic(auth0Ctx, "c1", secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.a.Basic(auth0Ctx, "c1", secret); err != nil {
			b.Fatal(err)
		}
	}
	if n := e.iss.TokenRequests(); n != 1 {
		b.Fatalf("%d token requests", n)
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

func TestAuth0ConcurrentFirstUse(t *testing.T) {
	t.Parallel()
	// Many first verifications at once: go-oidc may start a second key set
	// fetch right after the first one completed; the gate refuses it, and
	// the token must still verify against the keys just fetched.
	e := newAuth0Env(t, nil)
	for round := range 3 {
		if round > 0 {
			e.iss.RotateKey()
			e.clock.Advance(DefaultAuth0JWKSRefetch)
		}
		tok := e.mint(nil)
		var wg sync.WaitGroup
		for range 300 {
			wg.Go(func() {
				e := e.goroutine()
				p, err := e.a.Bearer(auth0Ctx, tok)
				e.check(p, err, 0, "")
			})
		}
		wg.Wait()
		e.counts(0, round+1, 1)
	}
}

func TestAuth0BasicKeepsUnverifiedToken(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	secret := e.client("c1")
	p, err := e.a.Bearer(auth0Ctx, e.mint(nil)) // keys fetched now
	e.check(p, err, 0, "")

	// Auth0 signs with a new key that folio may not fetch yet: the
	// exchange worked but the token cannot be verified. 503, so that
	// Contentful retries, and the token is kept rather than exchanged again.
	e.iss.RotateKey()
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, Unavailable, "auth0_token_unverified")
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, Unavailable, "auth0_token_unverified")
	e.counts(1, 1, 1)

	e.clock.Advance(DefaultAuth0JWKSRefetch)
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	p, err = e.a.Basic(auth0Ctx, "c1", secret)
	e.check(p, err, 0, "")
	e.counts(1, 2, 1)
}
