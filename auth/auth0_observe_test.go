package auth

import (
	"slices"
	"sync"
	"testing"
)

// TestAuth0Observed: each client-credentials exchange is reported with its
// outcome, and each Basic lookup with what the cache held (metrics).
func TestAuth0Observed(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var exchanges, lookups []string
	e := newAuth0Env(t, func(c *Auth0Config) {
		c.OnExchange = func(o string) { mu.Lock(); exchanges = append(exchanges, o); mu.Unlock() }
		c.OnCache = func(r string) { mu.Lock(); lookups = append(lookups, r); mu.Unlock() }
	})
	secret := e.client("c1", "regenerate")
	for range 2 {
		p, err := e.a.Basic(auth0Ctx, "c1", secret)
		e.check(p, err, 0, "")
	}
	for range 2 {
		if _, err := e.a.Basic(auth0Ctx, "c1", "not-the-secret"); err == nil {
			t.Fatal("a wrong secret was accepted")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{ExchangeOK, "invalid_client_credentials"}; !slices.Equal(exchanges, want) {
		t.Errorf("exchanges reported %q, want %q", exchanges, want)
	}
	if want := []string{CacheMiss, CacheHit, CacheMiss, CacheRefused}; !slices.Equal(lookups, want) {
		t.Errorf("cache lookups reported %q, want %q", lookups, want)
	}
}
