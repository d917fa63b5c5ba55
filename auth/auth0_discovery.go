package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// discovered returns the provider and verifier, discovering them on first
// use. After a failure it answers Unavailable without contacting Auth0 until
// DiscoveryRetry has passed.
func (a *Auth0) discovered(ctx context.Context) (*auth0Backend, *Error) {
	if be := a.backend.Load(); be != nil {
		return be, nil
	}
	if e := a.recentDiscoveryFailure(); e != nil {
		return nil, e
	}
	ch := a.discFlight.DoChan("discovery", func() (any, error) {
		be, e := a.discover()
		if e != nil {
			return nil, e
		}
		return be, nil
	})
	select {
	case <-ctx.Done():
		return nil, unavailable("auth0_unavailable", "the request ended before Auth0 answered", ctx.Err())
	case r := <-ch:
		if r.Err != nil {
			return nil, copyError(r.Err).(*Error)
		}
		return r.Val.(*auth0Backend), nil
	}
}

func (a *Auth0) recentDiscoveryFailure() *Error {
	a.discMu.Lock()
	defer a.discMu.Unlock()
	if a.discErr != nil && a.now().Sub(a.discFailAt) < a.discoveryRetry {
		return a.discErr
	}
	return nil
}

func (a *Auth0) discover() (*auth0Backend, *Error) {
	if be := a.backend.Load(); be != nil {
		return be, nil
	}
	if e := a.recentDiscoveryFailure(); e != nil {
		return nil, e
	}
	be, cause := a.newBackend()
	a.state.discovery.record(a.now(), asCause(cause))
	if cause != nil {
		e := discoveryError(cause)
		a.discMu.Lock()
		a.discErr, a.discFailAt = e, a.now()
		a.discMu.Unlock()
		return nil, e
	}
	a.backend.Store(be)
	a.discMu.Lock()
	a.discErr = nil
	a.discMu.Unlock()
	a.log.Info("auth0: discovery done", "issuer", a.issuer, "token_endpoint", be.tokenURL)
	return be, nil
}

// asCause keeps a nil *causeError a nil error.
func asCause(c *causeError) error {
	if c == nil {
		return nil
	}
	return c
}

// discoveryError is what every request is answered while discovery fails:
// 503 (Contentful retries), naming the cause; the cause itself is logged
// once, by the discovery tracker, not with every request.
func discoveryError(c *causeError) *Error {
	code := "auth0_unavailable"
	if c.config {
		code = "auth0_misconfigured"
	}
	return unavailable(code, fmt.Sprintf("Auth0 cannot be used to verify credentials (%s: %s); /status shows it",
		c.class, c.detail), nil)
}

// recorder is the transport of the discovery request: it notes how the
// request ended, which go-oidc flattens into a string.
type recorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	status int
	err    error
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := r.base.RoundTrip(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
	if err == nil {
		r.status = res.StatusCode
	}
	return res, err
}

func (a *Auth0) newBackend() (*auth0Backend, *causeError) {
	wellKnown := strings.TrimSuffix(a.issuer, "/") + "/.well-known/openid-configuration"
	dc := *a.client
	rec := &recorder{base: dc.Transport}
	if rec.base == nil {
		rec.base = http.DefaultTransport
	}
	dc.Transport = rec
	// NewProvider checks that the announced issuer is exactly ours.
	p, err := oidc.NewProvider(oidc.ClientContext(context.Background(), &dc), a.issuer)
	if err != nil {
		rec.mu.Lock()
		status, rtErr := rec.status, rec.err
		rec.mu.Unlock()
		var mismatch *oidc.IssuerMismatchError
		switch {
		case errors.As(err, &mismatch):
			return nil, &causeError{class: "issuer_mismatch", config: true, err: err,
				detail: fmt.Sprintf("the issuer %s announces is %q, not the configured %q (AUTH0_DOMAIN or AUTH0_ISSUER_URL must match it exactly, with its trailing slash)",
					wellKnown, mismatch.Discovered, mismatch.Provided)}
		case rtErr != nil:
			return nil, &causeError{class: "discovery_unreachable", err: err,
				detail: "GET " + wellKnown + " failed: no answer (DNS, connection or timeout)"}
		case status != 0 && status != http.StatusOK:
			c := statusCause("discovery", "GET", wellKnown, status)
			if c.class == "discovery_not_found" {
				c.detail += ": no OpenID configuration there; check AUTH0_DOMAIN or AUTH0_ISSUER_URL"
			}
			return nil, c
		default:
			return nil, &causeError{class: "discovery_invalid", config: true, err: err,
				detail: wellKnown + " is not an OpenID configuration"}
		}
	}
	var meta struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, &causeError{class: "discovery_invalid", config: true, err: err,
			detail: wellKnown + " is not an OpenID configuration"}
	}
	root := strings.TrimSuffix(a.issuer, "/") + "/"
	jwksURL, tokenURL := meta.JWKSURL, p.Endpoint().TokenURL
	if jwksURL == "" {
		jwksURL = root + ".well-known/jwks.json"
	}
	if tokenURL == "" {
		tokenURL = root + "oauth/token"
	}
	for _, u := range []string{jwksURL, tokenURL} {
		if err := a.checkEndpoint(u); err != nil {
			return nil, &causeError{class: "discovery_invalid", config: true, detail: err.Error()}
		}
	}
	keys := &limitedKeySet{
		remote: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), a.jwksClient), jwksURL),
		gate:   a.gate,
	}
	skew := a.skew
	verifier := oidc.NewVerifier(a.issuer, keys, &oidc.Config{
		ClientID:             a.audience,
		SupportedSigningAlgs: []string{oidc.RS256},
		Now:                  func() time.Time { return a.now().Add(-skew) },
	})
	return &auth0Backend{provider: p, verifier: verifier, keys: keys, tokenURL: tokenURL, jwksURL: jwksURL}, nil
}

// checkEndpoint refuses discovered endpoints that would downgrade the
// transport: secrets go to the token endpoint.
func (a *Auth0) checkEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return fmt.Errorf("discovery announced an invalid endpoint %q", raw)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && strings.HasPrefix(a.issuer, "http://")) {
		return fmt.Errorf("discovery announced a non-https endpoint %q", raw)
	}
	return nil
}
