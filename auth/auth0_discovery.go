package auth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
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
	be, err := a.newBackend()
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			a.log.Error("auth0: the issuer URL does not match the issuer Auth0 announces; set it exactly (with the trailing slash)",
				"configured", mismatch.Provided, "announced", mismatch.Discovered)
		} else {
			a.log.Warn("auth0: discovery failed; retrying on a later request", "issuer", a.issuer,
				"retry_after", a.discoveryRetry, "error", err)
		}
		e := unavailable("auth0_unavailable", "Auth0 cannot be reached to verify credentials; retry later", err)
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

func (a *Auth0) newBackend() (*auth0Backend, error) {
	// NewProvider checks that the announced issuer is exactly ours.
	p, err := oidc.NewProvider(a.baseCtx, a.issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return nil, err
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
			return nil, err
		}
	}
	keys := &limitedKeySet{
		remote: oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), a.jwksClient), jwksURL),
		gate:   a.jwksClient.Transport.(*jwksGate),
	}
	skew := a.skew
	verifier := oidc.NewVerifier(a.issuer, keys, &oidc.Config{
		ClientID:             a.audience,
		SupportedSigningAlgs: []string{oidc.RS256},
		Now:                  func() time.Time { return a.now().Add(-skew) },
	})
	return &auth0Backend{provider: p, verifier: verifier, keys: keys, tokenURL: tokenURL}, nil
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
