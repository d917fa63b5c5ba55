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

func TestAuth0IssuerMustMatchExactly(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) { c.IssuerURL = strings.TrimSuffix(c.IssuerURL, "/") })
	p, err := e.a.Bearer(auth0Ctx, e.mint(nil))
	e.check(p, err, Unavailable, "auth0_misconfigured")
	if logs := e.logs.String(); !strings.Contains(logs, "no trailing slash") || !strings.Contains(logs, "issuer_mismatch") {
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
