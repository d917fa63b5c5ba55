package auth

import (
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth/auth0test"
	"github.com/folio-cms/folio/internal/logbuf"
)

// TestAuth0VerdictTTLs: every remembered verdict of Basic credentials
// lasts what README documents, measured on the injected clock: refusals
// FailureTTL (30 s), not the token's lifetime; a working token until one
// minute before it expires; a failed discovery DiscoveryRetry.
func TestAuth0VerdictTTLs(t *testing.T) {
	t.Parallel()
	type answer struct {
		kind Kind
		code string
	}
	tests := []struct {
		name      string
		configure func(*Auth0Config)
		// setup prepares the issuer and returns the call; fix changes
		// the issuer once the first answer is remembered.
		setup         func(e *auth0Env) func() (*Principal, error)
		fix           func(e *auth0Env)
		first, after  answer
		ttl, extra    time.Duration // extra: past the ttl, for a bucket to refill
		requests      func(e *auth0Env) int
		before, later int
	}{
		{name: "scope missing, then granted", configure: func(c *Auth0Config) { c.RequiredScope = "regenerate" },
			setup: func(e *auth0Env) func() (*Principal, error) {
				secret := e.client("c1", "read")
				return func() (*Principal, error) { return e.a.Basic(auth0Ctx, "c1", secret) }
			},
			fix:   func(e *auth0Env) { e.iss.AddClient("c1", e.sec.list[0], "read", "regenerate") }, // list[0]: the secret setup made
			first: answer{Forbidden, "scope_missing"}, ttl: DefaultAuth0FailureTTL, before: 1, later: 2},
		{name: "no client grant, then granted", configure: func(c *Auth0Config) { c.Audience = "https://later.example/api" },
			setup: func(e *auth0Env) func() (*Principal, error) {
				secret := e.client("c1")
				return func() (*Principal, error) { return e.a.Basic(auth0Ctx, "c1", secret) }
			},
			fix:   func(e *auth0Env) { e.iss.Audience = "https://later.example/api" },
			first: answer{Forbidden, "audience_not_allowed"}, ttl: DefaultAuth0FailureTTL, before: 1, later: 2},
		{name: "wrong secret",
			setup: func(e *auth0Env) func() (*Principal, error) {
				e.client("c1")
				wrong := "wrong-" + auth0RandomHex(16)
				e.remember(wrong)
				return func() (*Principal, error) { return e.a.Basic(auth0Ctx, "c1", wrong) }
			},
			first: answer{Unauthenticated, "invalid_client_credentials"}, after: answer{Unauthenticated, "invalid_client_credentials"},
			ttl: DefaultAuth0FailureTTL, extra: DefaultAuth0FailureTTL, before: 1, later: 2},
		{name: "a working token",
			setup: func(e *auth0Env) func() (*Principal, error) {
				e.iss.TokenTTL = time.Hour
				now := e.clock.Now()
				e.clock.Advance(now.Truncate(time.Second).Add(time.Second).Sub(now)) // iat and exp are whole seconds
				secret := e.client("c1")
				return func() (*Principal, error) { return e.a.Basic(auth0Ctx, "c1", secret) }
			},
			ttl: time.Hour - time.Minute, before: 1, later: 2},
		{name: "a failed discovery",
			setup: func(e *auth0Env) func() (*Principal, error) {
				e.iss.SetDown(true)
				tok := e.mint(nil)
				return func() (*Principal, error) { return e.a.Bearer(auth0Ctx, tok) }
			},
			fix:      func(e *auth0Env) { e.iss.SetDown(false) },
			first:    answer{Unavailable, "auth0_unavailable"},
			ttl:      DefaultAuth0DiscoveryRetry,
			requests: func(e *auth0Env) int { return e.iss.DiscoveryRequests() }, before: 1, later: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newAuth0Env(t, tc.configure).in(t)
			call := tc.setup(e)
			requests := tc.requests
			if requests == nil {
				requests = func(e *auth0Env) int { return e.iss.TokenRequests() }
			}
			p, err := call()
			e.check(p, err, tc.first.kind, tc.first.code)
			if tc.fix != nil {
				tc.fix(e)
			}
			e.clock.Advance(tc.ttl - time.Nanosecond)
			p, err = call()
			e.check(p, err, tc.first.kind, tc.first.code)
			if n := requests(e); n != tc.before {
				t.Fatalf("just before %s: %d requests to Auth0, want %d", tc.ttl, n, tc.before)
			}
			e.clock.Advance(time.Nanosecond + tc.extra)
			p, err = call()
			e.check(p, err, tc.after.kind, tc.after.code)
			if n := requests(e); n != tc.later {
				t.Fatalf("at %s: %d requests to Auth0, want %d", tc.ttl, n, tc.later)
			}
		})
	}
}

// fakeIssuer serves an OpenID configuration naming issuer (its own URL when
// empty) and jwksURI, for misconfigurations the Auth0-shaped issuer cannot
// show.
func fakeIssuer(t *testing.T, jwksURI string) string {
	t.Helper()
	var self string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"issuer": self, "jwks_uri": jwksURI,
			"token_endpoint": self + "oauth/token"})
	}))
	t.Cleanup(srv.Close)
	self = srv.URL + "/"
	return self
}

// closedURL is a URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr + "/"
}

// TestAuth0MisconfigurationIsVisible: a wrong domain, a discovery 404, an
// issuer mismatch, a key set that cannot be fetched and a wrong audience
// each show on Status with their class, in each answer's reason, and in
// the log once, not once per request.
func TestAuth0MisconfigurationIsVisible(t *testing.T) {
	t.Parallel()
	iss := auth0test.New(auth0Audience)
	t.Cleanup(iss.Close)
	iss.AddClient("c1", "secret-c1-"+strings.Repeat("x", 20))
	tests := []struct {
		name      string
		issuer    func(t *testing.T) string
		audience  string
		state     string
		outcome   func(Auth0Status) *Outcome
		class     string
		code      string // of every webhook's answer
		logNeedle string
		bearer    bool // the webhook sends a token of the issuer (Basic otherwise)
	}{
		{name: "wrong domain", issuer: closedURL, state: Auth0Failing,
			outcome: func(s Auth0Status) *Outcome { return s.Discovery }, class: "discovery_unreachable",
			code: "auth0_unavailable", logNeedle: "discovery failed, an outage"},
		{name: "discovery 404", issuer: func(*testing.T) string { return iss.URL + "tenant/" }, state: Auth0Failing,
			outcome: func(s Auth0Status) *Outcome { return s.Discovery }, class: "discovery_not_found",
			code: "auth0_misconfigured", logNeedle: "discovery failed, a configuration problem"},
		{name: "issuer mismatch", issuer: func(*testing.T) string { return strings.TrimSuffix(iss.URL, "/") }, state: Auth0Failing,
			outcome: func(s Auth0Status) *Outcome { return s.Discovery }, class: "issuer_mismatch",
			code: "auth0_misconfigured", logNeedle: "discovery failed, a configuration problem"},
		{name: "key set unreachable", issuer: func(t *testing.T) string { return fakeIssuer(t, closedURL(t)+"jwks.json") },
			state: Auth0Failing, outcome: func(s Auth0Status) *Outcome { return s.JWKS }, class: "jwks_unreachable",
			code: "auth0_unavailable", logNeedle: "key set fetch failed, an outage", bearer: true},
		{name: "key set 404", issuer: func(t *testing.T) string { return fakeIssuer(t, iss.URL+"nothing/jwks.json") },
			state: Auth0Failing, outcome: func(s Auth0Status) *Outcome { return s.JWKS }, class: "jwks_not_found",
			code: "auth0_misconfigured", logNeedle: "key set fetch failed, a configuration problem", bearer: true},
		{name: "wrong audience", issuer: func(*testing.T) string { return iss.URL }, audience: "https://typo.example/api",
			state: Auth0Degraded, outcome: func(s Auth0Status) *Outcome { return s.Exchange }, class: "audience_not_allowed",
			code: "audience_not_allowed", logNeedle: "client-credentials exchange failed, a configuration problem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &logbuf.Buffer{}
			clock := &auth0Clock{t: time.Now()}
			aud := auth0Audience
			if tc.audience != "" {
				aud = tc.audience
			}
			issuer := tc.issuer(t)
			a, err := NewAuth0(Auth0Config{IssuerURL: issuer, Audience: aud, Now: clock.Now,
				HTTPClient: &http.Client{Timeout: 2 * time.Second},
				Logger:     slog.New(slog.NewTextHandler(logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if st := a.Status(); st.State != Auth0Pending || st.Issuer == "" || st.Audience != aud {
				t.Fatalf("before any check: %+v", st)
			}
			a.Check(auth0Ctx)
			for i := range 5 {
				var err error
				if tc.bearer {
					_, err = a.Bearer(auth0Ctx, iss.Mint(map[string]any{"iss": issuer}))
				} else {
					_, err = a.Basic(auth0Ctx, "c1", "secret-c1-"+strings.Repeat("x", 20))
				}
				ae, ok := err.(*Error)
				if !ok || ae.Code != tc.code {
					t.Fatalf("webhook %d: %v, want %s", i, err, tc.code)
				}
				if ae.Kind == Unavailable && (!strings.Contains(ae.Reason, tc.class) || ae.Err != nil) {
					t.Fatalf("the answer does not name the cause %s (or carries it to every request's log): %v", tc.class, ae)
				}
				clock.Advance(time.Minute) // past every retry interval: Auth0 is asked again
				a.Check(auth0Ctx)
			}
			st := a.Status()
			o := tc.outcome(st)
			if st.State != tc.state || o == nil || o.OK || o.Error != tc.class || o.Detail == "" || o.At.IsZero() ||
				!strings.Contains(st.Problem, tc.class) {
				t.Fatalf("status %+v, outcome %+v", st, o)
			}
			if n := strings.Count(logs.String(), tc.logNeedle); n != 1 {
				t.Fatalf("the cause is logged %d times, want once:\n%s", n, logs)
			}
			if strings.Contains(logs.String(), "secret-c1") {
				t.Fatalf("a secret is logged:\n%s", logs)
			}
		})
	}
}

// TestAuth0StatusRecovers: the state moves pending → failing → ok, and
// the recovery is logged once.
func TestAuth0StatusRecovers(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	e.iss.SetDown(true)
	e.a.Check(auth0Ctx)
	if st := e.a.Status(); st.State != Auth0Failing || st.Discovery.Error != "discovery_status" {
		t.Fatalf("%+v", st)
	}
	// A cause without a library error logs no empty "error" field (it
	// logged error=<nil>).
	if strings.Contains(e.logs.String(), "<nil>") || strings.Contains(e.logs.String(), `"error":null`) {
		t.Errorf("a failure is logged with a nil error:\n%s", e.logs)
	}
	e.iss.SetDown(false)
	e.clock.Advance(DefaultAuth0DiscoveryRetry)
	e.a.Check(auth0Ctx)
	st := e.a.Status()
	if st.State != Auth0OK || !st.Discovery.OK || !st.JWKS.OK || st.Problem != "" {
		t.Fatalf("%+v", st)
	}
	e.counts(0, 1, 2)
	// The first webhook finds the keys already fetched.
	p, err := e.a.Bearer(auth0Ctx, e.mint(nil))
	e.check(p, err, 0, "")
	e.counts(0, 1, 2)
	if n := strings.Count(e.logs.String(), "discovery works again"); n != 1 {
		t.Fatalf("recovery logged %d times:\n%s", n, e.logs)
	}

	// A key set fetch that fails after keys were fetched degrades; tokens
	// signed by known keys still verify.
	e.iss.SetDown(true)
	e.clock.Advance(DefaultAuth0JWKSRefetch)
	e.a.Check(auth0Ctx)
	if st := e.a.Status(); st.State != Auth0Degraded || st.JWKS.Error != "jwks_status" {
		t.Fatalf("%+v", st)
	}
	p, err = e.a.Bearer(auth0Ctx, e.mint(nil))
	e.check(p, err, 0, "")

	// A valid token that may not do this is the last refusal.
	e.iss.SetDown(false)
	p, err = e.a.Bearer(auth0Ctx, e.mint(map[string]any{"aud": "https://other.example/api"}))
	e.check(p, err, Forbidden, "audience_mismatch")
	if r := e.a.Status().LastRefusal; r == nil || r.Code != "audience_mismatch" {
		t.Fatalf("last refusal %+v", r)
	}
}
