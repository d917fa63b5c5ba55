package auth

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

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
