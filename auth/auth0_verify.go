package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Bearer verifies an access token.
func (a *Auth0) Bearer(ctx context.Context, rawToken string) (*Principal, error) {
	if rawToken == "" {
		return nil, unauthenticated("credentials_missing", "an Auth0 access token is required", nil)
	}
	if e := precheckToken(rawToken); e != nil {
		return nil, e
	}
	be, e := a.discovered(ctx)
	if e != nil {
		return nil, e
	}
	v, e := a.verify(ctx, be, rawToken, MethodAuth0Bearer, "")
	if e != nil {
		return nil, e
	}
	return v.principal, nil
}

// verified is a verified token's principal and lifetime; on a Forbidden
// verdict the lifetime is set and the principal is not.
type verified struct {
	principal *Principal
	issuedAt  time.Time
	expiry    time.Time
}

type tokenClaims struct {
	Subject     string   `json:"sub"`
	AZP         string   `json:"azp"`
	GTY         string   `json:"gty"`
	Scope       string   `json:"scope"`
	Permissions []string `json:"permissions"`
}

// verify checks a token's signature, issuer, audience and expiry with
// go-oidc, then the claims go-oidc does not check: iat, gty, azp, scope.
// wantClient, when set, is the client the token was exchanged for.
func (a *Auth0) verify(ctx context.Context, be *auth0Backend, raw, method, wantClient string) (*verified, *Error) {
	if e := precheckToken(raw); e != nil {
		return nil, e
	}
	out := &verifyOutcome{}
	tok, err := be.verifier.Verify(context.WithValue(ctx, outcomeKey{}, out), raw)
	if err != nil {
		return nil, a.classify(err, out, raw)
	}
	var c tokenClaims
	if err := tok.Claims(&c); err != nil {
		return nil, unauthenticated("token_invalid", "the access token's claims are malformed", scrub(err, raw))
	}
	now := a.now()
	if tok.IssuedAt.After(now.Add(a.skew)) {
		return nil, unauthenticated("token_invalid", "the access token was issued in the future", nil)
	}
	v := &verified{issuedAt: tok.IssuedAt, expiry: tok.Expiry}
	v, e := a.checkClaims(v, &c, method, wantClient)
	if e != nil && e.Kind == Forbidden {
		a.state.refused(now, e.Code)
	}
	return v, e
}

// checkClaims checks what go-oidc does not: gty, azp, the allowed clients
// and the required scope.
func (a *Auth0) checkClaims(v *verified, c *tokenClaims, method, wantClient string) (*verified, *Error) {
	if c.GTY != "client-credentials" {
		return v, forbidden("grant_type_not_allowed", "only machine-to-machine (client-credentials) tokens are accepted")
	}
	if c.AZP == "" {
		return v, forbidden("client_not_allowed", "the access token names no authorised party (azp)")
	}
	if wantClient != "" && c.AZP != wantClient {
		return nil, unauthenticated("token_invalid", "the access token was issued to another client", nil)
	}
	if a.allowed != nil {
		if _, ok := a.allowed[c.AZP]; !ok {
			return v, forbidden("client_not_allowed", "this Auth0 application may not do this")
		}
	}
	var scopes []string
	if c.Scope != "" {
		scopes = strings.Fields(c.Scope)
	}
	for _, p := range c.Permissions {
		if !slices.Contains(scopes, p) {
			scopes = append(scopes, p)
		}
	}
	if a.requiredScope != "" && !slices.Contains(scopes, a.requiredScope) {
		return v, forbidden("scope_missing", "the access token lacks the required scope "+a.requiredScope)
	}
	v.principal = &Principal{ClientID: c.AZP, Subject: c.Subject, Scopes: scopes, Method: method}
	return v, nil
}

// classify turns a go-oidc verification error into an *Error. go-oidc
// flattens most errors into strings, so the key set wrapper records in out
// what happened to the signature, and a wrong audience is recognised from
// the verified payload rather than from the message.
func (a *Auth0) classify(err error, out *verifyOutcome, raw string) *Error {
	cause := scrub(err, raw)
	var expired *oidc.TokenExpiredError
	switch {
	case out.ctxErr != nil:
		return unavailable("auth0_unavailable", "the request ended before the key set was fetched", out.ctxErr)
	case out.fetchErr != nil, out.throttled && !out.keysUsable:
		return a.keySetError(out.fetchErr)
	case out.throttled:
		a.unknownKey.Do(func() {
			a.log.Info("auth0: refusing tokens signed by unknown keys without refetching the key set (logged at most every 10 s)")
		})
		return unauthenticated("token_invalid", "the access token is not signed by a known Auth0 key", cause)
	case errors.As(err, &expired):
		return unauthenticated("token_expired", "the access token has expired", cause)
	case out.payload != nil:
		// The signature is good: issuer, audience or nbf failed.
		var c struct {
			Issuer   string   `json:"iss"`
			Audience audience `json:"aud"`
		}
		if json.Unmarshal(out.payload, &c) == nil && c.Issuer == a.issuer && !slices.Contains(c.Audience, a.audience) {
			a.state.refused(a.now(), "audience_mismatch")
			return &Error{Kind: Forbidden, Code: "audience_mismatch",
				Reason: "the access token is not for folio's API (its aud is not AUTH0_AUDIENCE)", Err: cause}
		}
	}
	return unauthenticated("token_invalid", "the access token is not valid", cause)
}

// keySetError answers a token that needs keys no fetch has brought: 503
// (Contentful retries), naming the cause of fetchErr or, when none was
// made now, of the last fetch. The cause is logged once by the tracker.
func (a *Auth0) keySetError(fetchErr error) *Error {
	var c *causeError
	if !errors.As(fetchErr, &c) {
		if o := a.state.jwks.get(); o != nil && !o.OK {
			c = &causeError{class: o.Error, detail: o.Detail}
		}
	}
	if c == nil {
		return unavailable("auth0_unavailable", "Auth0's key set cannot be fetched; retry later", nil)
	}
	code := "auth0_unavailable"
	if c.config || strings.HasSuffix(c.class, "_invalid") || strings.HasSuffix(c.class, "_not_found") {
		code = "auth0_misconfigured"
	}
	return unavailable(code, fmt.Sprintf("Auth0's key set cannot be fetched (%s: %s); /status shows it", c.class, c.detail), nil)
}

// audience is aud: a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*a = audience{s}
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return err
	}
	*a = l
	return nil
}

// precheckToken refuses what cannot be an Auth0 access token before any
// key is looked up: oversized, not three segments, not RS256, or a typ that
// is not a JWT access token.
func precheckToken(raw string) *Error {
	invalid := func(reason string) *Error { return unauthenticated("token_invalid", reason, nil) }
	if len(raw) > maxTokenLen {
		return invalid("the access token is too large")
	}
	if strings.Count(raw, ".") != 2 {
		return invalid("the access token is not a JWT")
	}
	seg := raw[:strings.IndexByte(raw, '.')]
	if len(seg) == 0 || len(seg) > 2048 {
		return invalid("the access token is not a JWT")
	}
	hdr, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return invalid("the access token is not a JWT")
	}
	var h struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
	}
	if json.Unmarshal(hdr, &h) != nil {
		return invalid("the access token is not a JWT")
	}
	if h.Alg != oidc.RS256 {
		return invalid("the access token must be signed with RS256")
	}
	switch strings.ToLower(h.Typ) {
	case "", "jwt", "at+jwt", "application/at+jwt":
	default:
		return invalid("the token is not an access token")
	}
	return nil
}
