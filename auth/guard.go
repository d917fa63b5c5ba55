package auth

import (
	"context"
	"net/http"
	"strings"
)

// Guard requires every configured method: a valid Contentful signature when
// a signing secret is set, AND valid Auth0 credentials when Auth0 is set.
// With neither configured it refuses everything: folio fails closed.
type Guard struct {
	sig   *SignatureVerifier
	auth0 *Auth0
}

// NewGuard combines the configured methods; either may be nil.
func NewGuard(sig *SignatureVerifier, auth0 *Auth0) *Guard {
	return &Guard{sig: sig, auth0: auth0}
}

// Methods names the configured methods, for logs and /status.
func (g *Guard) Methods() []string {
	var m []string
	if g.sig != nil {
		m = append(m, "contentful-signature")
	}
	if g.auth0 != nil {
		m = append(m, "auth0")
	}
	return m
}

// GuardStatus is the auth section of /status: which methods are
// configured and what folio knows of them; never a secret, a token or a
// client id.
type GuardStatus struct {
	// Configured is false when no method is: every webhook is refused.
	Configured bool     `json:"configured"`
	Methods    []string `json:"methods"`
	// SignedPathPrefix is the path of FOLIO_PUBLIC_URL put before every
	// received path when a signature is checked.
	SignedPathPrefix string       `json:"signedPathPrefix,omitempty"`
	Auth0            *Auth0Status `json:"auth0,omitempty"`
}

// Status reports the configured methods and Auth0's state.
func (g *Guard) Status() GuardStatus {
	st := GuardStatus{Methods: g.Methods()}
	st.Configured = len(st.Methods) > 0
	if st.Methods == nil {
		st.Methods = []string{}
	}
	if g.sig != nil {
		st.SignedPathPrefix = g.sig.PublicPath()
	}
	if g.auth0 != nil {
		a := g.auth0.Status()
		st.Auth0 = &a
	}
	return st
}

// Degraded names why no webhook can be authenticated at all (no method
// configured, or Auth0 failing), or nothing: for /readyz, which stays 200
// (readiness is about serving content) but says so.
func (g *Guard) Degraded() []string {
	if g.sig == nil && g.auth0 == nil {
		return []string{"webhook_auth_not_configured: no webhook can be authenticated; set CONTENTFUL_WEBHOOK_SECRET and/or AUTH0_DOMAIN with AUTH0_AUDIENCE"}
	}
	if g.auth0 != nil {
		if st := g.auth0.Status(); st.State == Auth0Failing {
			return []string{"auth0 " + st.Problem}
		}
	}
	return nil
}

// Watch checks Auth0 in the background from the start (Auth0.Watch), so a
// misconfiguration shows on /status and /readyz before the first webhook;
// without Auth0 it returns at once.
func (g *Guard) Watch(ctx context.Context) {
	if g.auth0 != nil {
		g.auth0.Watch(ctx)
	}
}

// UsesAuth0 reports whether Auth0 credentials are required, so a 401 can say
// which schemes the caller may use.
func (g *Guard) UsesAuth0() bool { return g.auth0 != nil }

// Authenticate checks a request whose raw body has been read: the signature
// first (cheap, local), then Auth0 (may call Auth0 on a cache miss).
func (g *Guard) Authenticate(ctx context.Context, r *http.Request, body []byte) (*Principal, error) {
	if g.sig == nil && g.auth0 == nil {
		return nil, &Error{Kind: NotConfigured, Code: "webhook_auth_not_configured",
			Reason: "no webhook authentication is configured: set CONTENTFUL_WEBHOOK_SECRET and/or AUTH0_DOMAIN with AUTH0_AUDIENCE"}
	}
	p := &Principal{ClientID: "contentful", Method: "contentful-signature"}
	if g.sig != nil {
		if err := g.sig.Verify(r, body); err != nil {
			return nil, err
		}
	}
	if g.auth0 == nil {
		return p, nil
	}
	return g.fromAuthorization(ctx, r.Header.Get("Authorization"))
}

func (g *Guard) fromAuthorization(ctx context.Context, header string) (*Principal, error) {
	scheme, value, _ := strings.Cut(strings.TrimSpace(header), " ")
	value = strings.TrimSpace(value)
	switch {
	case strings.EqualFold(scheme, "Bearer") && value != "":
		return g.auth0.Bearer(ctx, value)
	case strings.EqualFold(scheme, "Basic") && value != "":
		id, secret, ok := parseBasic(value)
		if !ok {
			return nil, unauthenticated("credentials_malformed", "the Basic credentials are not base64 of id:secret", nil)
		}
		return g.auth0.Basic(ctx, id, secret)
	case header == "":
		return nil, unauthenticated("credentials_missing", "send an Auth0 client id and secret as HTTP Basic, or an access token as Bearer", nil)
	default:
		return nil, unauthenticated("credentials_malformed", "the Authorization header is neither Basic nor Bearer", nil)
	}
}

// parseBasic decodes Basic credentials the way net/http does.
func parseBasic(value string) (id, secret string, ok bool) {
	r := http.Request{Header: http.Header{"Authorization": {"Basic " + value}}}
	id, secret, ok = r.BasicAuth()
	return id, secret, ok && id != "" && secret != ""
}
