package auth

import (
	"sync"
	"testing"

	"github.com/folio-cms/folio/auth/auth0test"
)

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
