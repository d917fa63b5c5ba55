package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// flood sends n made-up Basic credentials from n client ids (or from id,
// when set) on 8 goroutines; none may be accepted.
func (e *auth0Env) flood(n int, id string) {
	e.t.Helper()
	var wg sync.WaitGroup
	per := n / 8
	for g := range 8 {
		wg.Go(func() {
			e := e.goroutine()
			for i := range per {
				cid := id
				if cid == "" {
					cid = fmt.Sprintf("bogus-%d-%d-%s", g, i, auth0RandomHex(4))
				}
				s := "bogus-secret-" + auth0RandomHex(12)
				e.remember(s)
				p, err := e.a.Basic(auth0Ctx, cid, s)
				if p != nil || err == nil {
					e.fail("made-up credentials accepted")
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestAuth0FloodWithAllowList: with FOLIO_AUTH0_ALLOWED_CLIENTS, made-up
// ids never reach Auth0 or any limit; the real client's first exchange,
// its first after a restart and its renewal all succeed during a flood.
func TestAuth0FloodWithAllowList(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) { c.AllowedClients = []string{"real"} })
	secret := e.client("real", "regenerate")

	e.flood(2000, "")
	p, err := e.a.Basic(auth0Ctx, "real", secret) // first exchange
	e.check(p, err, 0, "")
	e.counts(1, 1, 1)

	// Restart: a new process knows nothing; the flood goes on.
	restarted, err := NewAuth0(Auth0Config{IssuerURL: e.iss.URL, Audience: auth0Audience, AllowedClients: []string{"real"},
		Now: e.clock.Now, Logger: e.a.log})
	if err != nil {
		t.Fatal(err)
	}
	e.a = restarted
	e.flood(2000, "")
	p, err = e.a.Basic(auth0Ctx, "real", secret)
	e.check(p, err, 0, "")
	e.counts(2, 2, 2)

	// Renewal, a day later, during the flood.
	e.clock.Advance(24*time.Hour - 30*time.Second)
	e.flood(2000, "")
	p, err = e.a.Basic(auth0Ctx, "real", secret)
	e.check(p, err, 0, "")
	e.counts(3, -1, -1)
}

// TestAuth0FloodWithoutAllowList: by default any id reaches the exchange,
// so made-up ids drain the ceiling of unproven credentials, and that
// ceiling only: the real client's renewal (its credentials are proven)
// succeeds during the flood, and Auth0 sees no more than the limits allow.
func TestAuth0FloodWithoutAllowList(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, nil)
	secret := e.client("real", "regenerate")
	p, err := e.a.Basic(auth0Ctx, "real", secret)
	e.check(p, err, 0, "")

	e.clock.Advance(24*time.Hour - 30*time.Second) // the token is due for renewal
	e.flood(2000, "")
	// The burst of the unproven ceiling reached Auth0, nothing more.
	e.counts(1+DefaultAuth0ExchangeBurst, -1, -1)
	p, err = e.a.Basic(auth0Ctx, "real", secret)
	e.check(p, err, 0, "")
	e.counts(2+DefaultAuth0ExchangeBurst, -1, -1)
	st := e.a.Status().Limits
	if st.ProvenCredentials != 1 || st.ThrottledUnproven != 2000-DefaultAuth0ExchangeBurst || st.ThrottledProven != 0 {
		t.Fatalf("limits on /status: %+v", st)
	}
}

// TestAuth0FloodUnderARealID: an attacker who knows the real client id
// spends only that id's own bucket; the proven credential renews anyway,
// and each made-up pair is refused from memory when sent again.
func TestAuth0FloodUnderARealID(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) { c.AllowedClients = []string{"real"} })
	secret := e.client("real")
	p, err := e.a.Basic(auth0Ctx, "real", secret)
	e.check(p, err, 0, "")
	e.counts(1, -1, -1)

	e.clock.Advance(24*time.Hour - 30*time.Second)
	e.flood(400, "real")
	e.counts(1+DefaultAuth0CallerExchangeBurst, -1, -1)
	p, err = e.a.Basic(auth0Ctx, "real", secret)
	e.check(p, err, 0, "")
	e.counts(2+DefaultAuth0CallerExchangeBurst, -1, -1)

	// The same made-up pair twice reaches Auth0 once (the negative cache).
	e.clock.Advance(time.Minute)
	wrong := "wrong-" + auth0RandomHex(16)
	e.remember(wrong)
	for range 5 {
		p, err = e.a.Basic(auth0Ctx, "real", wrong)
		e.check(p, err, Unauthenticated, "invalid_client_credentials")
	}
	e.counts(3+DefaultAuth0CallerExchangeBurst, -1, -1)
}

// TestAuth0PerCallerLimit: one id cannot take the whole ceiling; another
// id still gets through.
func TestAuth0PerCallerLimit(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) { c.ExchangeBurst = 100 })
	try := func(id string, kind Kind, code string) {
		t.Helper()
		s := "random-" + auth0RandomHex(16)
		e.remember(s)
		p, err := e.a.Basic(auth0Ctx, id, s)
		e.check(p, err, kind, code)
	}
	for range DefaultAuth0CallerExchangeBurst {
		try("greedy", Unauthenticated, "invalid_client_credentials")
	}
	try("greedy", Throttled, "auth0_exchange_throttled")
	try("other", Unauthenticated, "invalid_client_credentials")
	e.clock.Advance(time.Duration(float64(time.Second) / DefaultAuth0CallerExchangeRate))
	try("greedy", Unauthenticated, "invalid_client_credentials")
	e.counts(DefaultAuth0CallerExchangeBurst+2, 0, 1)
}

// TestAuth0FloodBoundsMemoryAndKeepsTokens: made-up credentials neither
// grow the maps past MaxCallers nor evict the real client's cached token
// (refusals were kept in the token cache, and a flood of them pushed the
// token out, so the real client needed a new exchange, into the flood).
func TestAuth0FloodBoundsMemoryAndKeepsTokens(t *testing.T) {
	t.Parallel()
	e := newAuth0Env(t, func(c *Auth0Config) {
		c.MaxCallers, c.MaxCachedTokens = 50, 3
		c.ExchangeRate, c.ExchangeBurst = 1e6, 1e6 // every made-up pair reaches Auth0
	})
	secret := e.client("real")
	p, err := e.a.Basic(auth0Ctx, "real", secret)
	e.check(p, err, 0, "")
	e.flood(400, "")
	e.counts(401, -1, -1)
	if n, m, k := e.a.limits.callers.Len(), e.a.refused.Len(), e.a.limits.proven.Len(); n > 50 || m > 50 || k != 1 {
		t.Fatalf("maps hold %d callers, %d refusals, %d proven: want at most 50, 50, and 1", n, m, k)
	}
	p, err = e.a.Basic(auth0Ctx, "real", secret)
	e.check(p, err, 0, "")
	e.counts(401, -1, -1) // still cached: no new exchange
}
