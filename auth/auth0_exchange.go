package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Basic exchanges an Auth0 application's client id and secret for an access
// token (client-credentials grant for the configured audience) and verifies
// it like a Bearer token. Tokens are cached per credential until shortly
// before they expire (refreshAt), concurrent first uses share one exchange,
// refusals (a refused exchange, a token that may not do this) are
// remembered for FailureTTL, and exchanges are rate limited per caller and
// fairly (exchangeLimits; Throttled beyond the limits).
func (a *Auth0) Basic(ctx context.Context, clientID, clientSecret string) (*Principal, error) {
	if clientID == "" || clientSecret == "" {
		return nil, unauthenticated("credentials_missing", "an Auth0 client id and secret are required", nil)
	}
	if len(clientID) > maxClientIDLen || len(clientSecret) > maxSecretLen {
		return nil, unauthenticated("invalid_client_credentials", "the client credentials are not valid", nil)
	}
	if a.allowed != nil {
		if _, ok := a.allowed[clientID]; !ok {
			// azp would be refused after the exchange anyway: do not spend
			// Auth0's quota (or the exchange limit) to learn it, and do not
			// tell a caller who has not proven anything that the id exists.
			return nil, unauthenticated("invalid_client_credentials", "the client credentials are not valid",
				errors.New("client id is not in the allowed clients"))
		}
	}
	key := a.credKey(clientID, clientSecret)
	if e := a.lookup(key); e != nil && e.settled() {
		a.onCache(CacheHit)
		return e.result()
	}
	if e := a.lookupRefused(key); e != nil {
		a.onCache(CacheRefused)
		return e.result()
	}
	a.onCache(CacheMiss)
	return a.basicMiss(ctx, key, clientID, clientSecret)
}

// basicMiss waits for the credential's flight (joining one in progress).
// It is apart from Basic so that the cached path allocates nothing for the
// closure.
func (a *Auth0) basicMiss(ctx context.Context, key credKey, clientID, clientSecret string) (*Principal, error) {
	ch := a.flights.DoChan(string(key[:]), func() (any, error) {
		p, e := a.basicFlight(key, clientID, clientSecret)
		if e != nil {
			return nil, e
		}
		return p, nil
	})
	select {
	case <-ctx.Done():
		return nil, unavailable("auth0_unavailable", "the request ended before Auth0 answered", ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, copyError(r.Err)
		}
		return r.Val.(*Principal).clone(), nil
	}
}

// basicFlight runs once per credential at a time (singleflight): it
// exchanges the credentials (or re-verifies a cached token whose first
// verification could not be completed) and records the outcome.
func (a *Auth0) basicFlight(key credKey, clientID, secret string) (*Principal, *Error) {
	cached := a.lookup(key)
	if cached == nil || !cached.settled() {
		if r := a.lookupRefused(key); r != nil {
			cached = r
		}
	}
	if cached != nil && cached.settled() {
		// Another flight finished between our caller's lookup and now.
		p, err := cached.result()
		if err != nil {
			return nil, err.(*Error)
		}
		return p, nil
	}
	be, e := a.discovered(a.baseCtx)
	if e != nil {
		return nil, e
	}

	now := a.now()
	var raw string
	var until time.Time
	if cached != nil {
		raw, until = cached.token, cached.until
	} else {
		if !a.limits.admit(key, clientID) {
			a.throttleLog.Do(func() {
				a.log.Warn("auth0: client-credentials exchanges are over folio's limits; refusing them (logged at most every 10 s)",
					"client_id", clientID)
			})
			a.onExchange("auth0_exchange_throttled")
			return nil, &Error{Kind: Throttled, Code: "auth0_exchange_throttled",
				Reason: "too many Auth0 credential exchanges; retry later"}
		}
		tok, e := a.exchangeToken(be, clientID, secret)
		outcome := ExchangeOK
		if e != nil {
			outcome = e.Code
		}
		a.onExchange(outcome)
		if e != nil {
			if e.Kind == Unauthenticated || e.Kind == Forbidden {
				a.refuse(key, now, e)
			}
			return nil, e
		}
		a.limits.prove(key)
		raw = tok.AccessToken
		// Until the token is verified, trust expires_in (measured on the
		// real clock by x/oauth2) for how long it is worth keeping.
		if !tok.Expiry.IsZero() {
			until = refreshAt(now, time.Time{}, now.Add(time.Until(tok.Expiry)))
		} else {
			until = now.Add(a.failureTTL)
		}
	}

	v, e := a.verify(a.baseCtx, be, raw, MethodAuth0Basic, clientID)
	switch {
	case e == nil:
		if r := refreshAt(now, v.issuedAt, v.expiry); r.After(now) {
			a.store(key, &cacheEntry{created: now, until: r, token: raw, principal: v.principal})
		}
		return v.principal, nil
	case e.Kind == Forbidden && v != nil:
		// A valid token that may not do this (azp, scope, gty): remembered
		// for FailureTTL like any refusal, not for the token's lifetime, so
		// that a grant fixed in Auth0 works within it (by a new exchange:
		// the scopes are in the token).
		a.refuse(key, now, e)
		return nil, e
	default:
		// Auth0 issued the token but folio could not verify it (key set
		// unreachable, a key rotation inside the JWKS refetch window, a
		// misconfiguration). Keep the token and verify it again next time
		// instead of exchanging again; answer 503 so Contentful retries.
		if until.After(now) {
			a.store(key, &cacheEntry{created: now, until: until, token: raw})
		}
		if e.Kind == Unavailable {
			return nil, e // the key set's failure, which its tracker logs once
		}
		a.unverifiedLog.Do(func() {
			a.log.Warn("auth0: could not verify a token Auth0 issued; it is kept and verified again (logged at most every 10 s)",
				"client_id", clientID, "code", e.Code, "error", e.Err)
		})
		return nil, unavailable("auth0_token_unverified", "the access token Auth0 issued could not be verified yet ("+e.Code+"); retry later", nil)
	}
}

// exchangeToken performs the client-credentials grant.
func (a *Auth0) exchangeToken(be *auth0Backend, clientID, secret string) (*oauth2.Token, *Error) {
	cc := clientcredentials.Config{
		ClientID:       clientID,
		ClientSecret:   secret,
		TokenURL:       be.tokenURL,
		EndpointParams: url.Values{"audience": {a.audience}},
		// Auth0's default for machine-to-machine applications is
		// client_secret_post; naming it avoids x/oauth2's auto-detection,
		// which sends every refused request twice.
		AuthStyle: oauth2.AuthStyleInParams,
	}
	tok, err := cc.Token(a.baseCtx)
	now := a.now()
	if err != nil {
		cause := scrub(err, secret)
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			switch sc := re.Response.StatusCode; {
			case sc == http.StatusUnauthorized || sc == http.StatusBadRequest:
				// The caller's mistake (or a made-up pair): not Auth0's state.
				return nil, unauthenticated("invalid_client_credentials", "Auth0 refused the client credentials", cause)
			case sc == http.StatusForbidden:
				a.state.exchange.record(now, &causeError{class: "audience_not_allowed", config: true,
					detail: "Auth0 accepted a client's credentials but refused it a token for AUTH0_AUDIENCE " + a.audience +
						": the audience is wrong, or the application has no client grant for it", err: cause})
				a.state.refused(now, "audience_not_allowed")
				return nil, &Error{Kind: Forbidden, Code: "audience_not_allowed",
					Reason: "this Auth0 application is not authorised for folio's API (no client grant)", Err: cause}
			default:
				return nil, a.exchangeFailed(now, statusCause("token_endpoint", "POST", be.tokenURL, sc), cause)
			}
		}
		return nil, a.exchangeFailed(now, &causeError{class: "token_endpoint_unavailable",
			detail: "POST " + be.tokenURL + " failed: no answer (DNS, connection or timeout)"}, cause)
	}
	if tok.AccessToken == "" || (tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "bearer")) {
		return nil, a.exchangeFailed(now, &causeError{class: "token_endpoint_invalid", config: true,
			detail: "POST " + be.tokenURL + " answered without a bearer access token"}, nil)
	}
	a.state.exchange.record(now, nil)
	return tok, nil
}

// exchangeFailed records an exchange Auth0 could not answer (the tracker
// logs its cause once) and answers 503 naming the cause.
func (a *Auth0) exchangeFailed(now time.Time, c *causeError, cause error) *Error {
	c.err = cause
	a.state.exchange.record(now, c)
	code := "auth0_unavailable"
	if c.config {
		code = "auth0_misconfigured"
	}
	return unavailable(code, fmt.Sprintf("Auth0 cannot exchange the credentials (%s: %s); retry later", c.class, c.detail), nil)
}

// refreshAt is when a token stops being served from the cache: one minute,
// or a tenth of its lifetime if that is shorter, before it expires.
func refreshAt(now, iat, exp time.Time) time.Time {
	if exp.IsZero() {
		return now
	}
	lifetime := exp.Sub(iat)
	if iat.IsZero() || lifetime <= 0 {
		lifetime = exp.Sub(now)
	}
	return exp.Add(-min(time.Minute, lifetime/10))
}
