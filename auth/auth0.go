package auth

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"
	"golang.org/x/time/rate"
)

// The Method of a Principal authenticated through Auth0.
const (
	MethodAuth0Basic  = "auth0-basic"
	MethodAuth0Bearer = "auth0-bearer"
)

// Defaults of the Auth0Config tuning fields. Auth0's free plan allows about
// 1,000 machine-to-machine tokens a month, so every limit here is about not
// asking Auth0 twice for what folio already knows.
const (
	DefaultAuth0HTTPTimeout    = 10 * time.Second
	DefaultAuth0DiscoveryRetry = 10 * time.Second
	DefaultAuth0JWKSRefetch    = 30 * time.Second
	DefaultAuth0FailureTTL     = 30 * time.Second
	DefaultAuth0ExchangeRate   = 1.0 // exchanges per second, all credentials together
	DefaultAuth0ExchangeBurst  = 5
	DefaultAuth0MaxCached      = 1000
	DefaultAuth0ClockSkew      = 30 * time.Second
)

// Bounds on what a caller may hand us before anything is hashed or parsed.
// Auth0 client ids are 32 characters, secrets 64, access tokens about 1 KB.
const (
	maxClientIDLen = 256
	maxSecretLen   = 1024
	maxTokenLen    = 16 << 10
)

// Auth0Config configures Auth0 machine-to-machine authentication.
type Auth0Config struct {
	// IssuerURL is the exact issuer, used as-is: Auth0's iss is
	// "https://TENANT/" WITH the trailing slash, and it must match exactly.
	IssuerURL string
	// Audience is the API identifier tokens must carry in aud; it is also
	// the audience requested in the client-credentials exchange.
	Audience string
	// AllowedClients is the azp (client id) allow-list; empty allows any
	// client authorised for Audience.
	AllowedClients []string
	// RequiredScope must be in the token's scope (space-separated) or
	// permissions (array) claim; empty requires none.
	RequiredScope string
	// HTTPClient talks to Auth0. Nil means a client with a 10 s timeout. A
	// given client is copied: a zero Timeout becomes 10 s, and redirects are
	// never followed whatever its CheckRedirect says.
	HTTPClient *http.Client
	// Logger receives warnings (Auth0 unreachable, refused exchanges);
	// nil means slog.Default(). No secret or token is ever logged.
	Logger *slog.Logger
	// Now is the clock, for tests; nil means time.Now. Every interval below
	// is measured with it.
	Now func() time.Time

	// DiscoveryRetry is the least time between two discovery attempts after
	// one failed (and between JWKS fetches after a failed one); default 10 s.
	DiscoveryRetry time.Duration
	// JWKSRefetch is the least time between two fetches of the key set once
	// it has been fetched: tokens with an unknown kid (or a signature no
	// cached key verifies) are refused without a fetch in between; default
	// 30 s.
	JWKSRefetch time.Duration
	// FailureTTL is how long a refused exchange (wrong secret, no client
	// grant) is remembered and answered without asking Auth0; default 30 s.
	FailureTTL time.Duration
	// ExchangeRate and ExchangeBurst limit client-credentials exchanges
	// across all credentials (a token bucket); defaults 1/s and 5.
	ExchangeRate  float64
	ExchangeBurst int
	// MaxCachedTokens bounds the exchanged-token cache; default 1,000.
	MaxCachedTokens int
	// ClockSkew is how long after exp a token is still accepted; default
	// 30 s. Negative means none.
	ClockSkew time.Duration
}

// Principal is who made a request.
type Principal struct {
	// ClientID is the Auth0 application (the token's azp).
	ClientID string
	// Subject is the token's sub ("<client id>@clients" for Auth0 M2M).
	Subject string
	// Scopes are the token's scope entries followed by its permissions.
	Scopes []string
	// Method is how the caller authenticated, such as MethodAuth0Basic or
	// MethodAuth0Bearer.
	Method string
}

func (p *Principal) clone() *Principal {
	c := *p
	c.Scopes = slices.Clone(p.Scopes)
	return &c
}

// Auth0 authenticates callers with Auth0 machine-to-machine credentials:
// HTTP Basic client id and secret (exchanged for an access token with the
// client-credentials grant, cached) or a Bearer access token. It is safe for
// concurrent use; make one per process.
type Auth0 struct {
	issuer        string
	audience      string
	allowed       map[string]struct{} // nil: any client
	requiredScope string
	client        *http.Client // no redirects, with a timeout
	jwksClient    *http.Client // client, through the JWKS fetch gate
	baseCtx       context.Context
	log           *slog.Logger
	now           func() time.Time

	discoveryRetry time.Duration
	jwksRefetch    time.Duration
	failureTTL     time.Duration
	skew           time.Duration
	maxCached      int

	// Discovery, made lazily on first use.
	backend    atomic.Pointer[auth0Backend]
	discMu     sync.Mutex
	discFailAt time.Time
	discErr    *Error
	discFlight singleflight.Group

	// Exchanged tokens, keyed by an HMAC of client id, secret and audience.
	hmacKey  []byte
	hashers  sync.Pool
	cacheMu  sync.RWMutex
	cache    map[credKey]*cacheEntry
	flights  singleflight.Group
	exchange *rate.Limiter

	// Warnings an attacker could repeat are logged at most once per 10 s.
	throttleLog rate.Sometimes
	unknownKey  rate.Sometimes
}

// auth0Backend is what discovery yields: one provider and one verifier for
// the process.
type auth0Backend struct {
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	keys     *limitedKeySet
	tokenURL string
}

// NewAuth0 checks the configuration. It does not contact Auth0: discovery
// happens on first use and is retried at most once per DiscoveryRetry after
// a failure, so folio starts and serves content while Auth0 is down.
func NewAuth0(cfg Auth0Config) (*Auth0, error) {
	var problems []string
	issuer := strings.TrimSpace(cfg.IssuerURL)
	if u, err := url.Parse(issuer); issuer == "" || err != nil || (u.Scheme != "https" && u.Scheme != "http") ||
		u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		shown := cfg.IssuerURL
		if err == nil && u.User != nil {
			shown = u.Redacted()
		}
		problems = append(problems, fmt.Sprintf("issuer URL %q is not an absolute http(s) URL without credentials, such as https://tenant.eu.auth0.com/", shown))
	}
	audience := strings.TrimSpace(cfg.Audience)
	if audience == "" {
		problems = append(problems, "audience (the API identifier) is required")
	}
	scope := strings.TrimSpace(cfg.RequiredScope)
	if strings.ContainsAny(scope, " \t") {
		problems = append(problems, fmt.Sprintf("required scope %q must be a single scope", cfg.RequiredScope))
	}
	if cfg.ExchangeRate < 0 || cfg.ExchangeBurst < 0 || cfg.MaxCachedTokens < 0 {
		problems = append(problems, "exchange rate, burst and cache size must not be negative")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("auth0: %s", strings.Join(problems, "; "))
	}

	a := &Auth0{
		issuer:         issuer,
		audience:       audience,
		requiredScope:  scope,
		log:            cfg.Logger,
		now:            cfg.Now,
		discoveryRetry: orDefault(cfg.DiscoveryRetry, DefaultAuth0DiscoveryRetry),
		jwksRefetch:    orDefault(cfg.JWKSRefetch, DefaultAuth0JWKSRefetch),
		failureTTL:     orDefault(cfg.FailureTTL, DefaultAuth0FailureTTL),
		skew:           orDefault(cfg.ClockSkew, DefaultAuth0ClockSkew),
		maxCached:      cfg.MaxCachedTokens,
		cache:          map[credKey]*cacheEntry{},
		throttleLog:    rate.Sometimes{First: 1, Interval: 10 * time.Second},
		unknownKey:     rate.Sometimes{First: 1, Interval: 10 * time.Second},
	}
	if cfg.ClockSkew < 0 {
		a.skew = 0
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.maxCached == 0 {
		a.maxCached = DefaultAuth0MaxCached
	}
	for _, c := range cfg.AllowedClients {
		if c = strings.TrimSpace(c); c != "" {
			if a.allowed == nil {
				a.allowed = map[string]struct{}{}
			}
			a.allowed[c] = struct{}{}
		}
	}
	if !strings.HasSuffix(issuer, "/") {
		a.log.Warn("auth0: the issuer URL has no trailing slash; Auth0 issuers end with '/', and iss must match exactly",
			"issuer", issuer)
	}

	limit, burst := cfg.ExchangeRate, cfg.ExchangeBurst
	if limit == 0 {
		limit = DefaultAuth0ExchangeRate
	}
	if burst == 0 {
		burst = DefaultAuth0ExchangeBurst
	}
	a.exchange = rate.NewLimiter(rate.Limit(limit), burst)

	a.hmacKey = make([]byte, 32)
	if _, err := rand.Read(a.hmacKey); err != nil {
		return nil, fmt.Errorf("auth0: generating the cache key: %w", err)
	}
	a.hashers.New = func() any { return &credHasher{h: hmac.New(sha256.New, a.hmacKey)} }

	var c http.Client
	if cfg.HTTPClient != nil {
		c = *cfg.HTTPClient
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultAuth0HTTPTimeout
	}
	c.Jar = nil
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return errRedirect }
	a.client = &c

	jc := c
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	jc.Transport = &jwksGate{base: base, now: a.now, refetch: a.jwksRefetch, retry: a.discoveryRetry}
	a.jwksClient = &jc

	a.baseCtx = oidc.ClientContext(context.Background(), a.client)
	return a, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

var errRedirect = errors.New("redirects from Auth0 are not followed")

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

// Basic exchanges an Auth0 application's client id and secret for an access
// token (client-credentials grant for the configured audience) and verifies
// it like a Bearer token. Tokens are cached per credential until shortly
// before they expire, concurrent first uses share one exchange, refused
// credentials are remembered for FailureTTL, and exchanges are rate limited
// overall (Throttled beyond the limit).
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
		return e.result()
	}
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
		if !a.exchange.AllowN(now, 1) {
			a.throttleLog.Do(func() {
				a.log.Warn("auth0: client-credentials exchanges are over folio's rate limit; refusing them (logged at most every 10 s)",
					"client_id", clientID)
			})
			return nil, &Error{Kind: Throttled, Code: "auth0_exchange_throttled",
				Reason: "too many Auth0 credential exchanges; retry later"}
		}
		tok, e := a.exchangeToken(be, clientID, secret)
		if e != nil {
			if e.Kind == Unauthenticated || e.Kind == Forbidden {
				a.store(key, &cacheEntry{created: now, until: now.Add(a.failureTTL), err: e})
			}
			a.log.Warn("auth0: client-credentials exchange failed", "client_id", clientID, "code", e.Code, "error", e.Err)
			return nil, e
		}
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
		// A valid token that may not do this (azp, scope, gty): it stays so
		// until it expires; asking Auth0 again would only spend quota.
		if r := refreshAt(now, v.issuedAt, v.expiry); r.After(now) {
			a.store(key, &cacheEntry{created: now, until: r, err: e})
		}
		return nil, e
	default:
		// Auth0 issued the token but folio could not verify it (key set
		// unreachable, a key rotation inside the JWKS refetch window, a
		// misconfiguration). Keep the token and verify it again next time
		// instead of exchanging again; answer 503 so Contentful retries.
		if until.After(now) {
			a.store(key, &cacheEntry{created: now, until: until, token: raw})
		}
		a.log.Warn("auth0: could not verify the token Auth0 issued", "client_id", clientID, "code", e.Code, "error", e.Err)
		if e.Kind == Unavailable {
			return nil, e
		}
		return nil, unavailable("auth0_token_unverified", "the access token Auth0 issued could not be verified; retry later", e)
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
	if err != nil {
		cause := scrub(err, secret)
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			switch sc := re.Response.StatusCode; {
			case sc == http.StatusUnauthorized || sc == http.StatusBadRequest:
				return nil, unauthenticated("invalid_client_credentials", "Auth0 refused the client credentials", cause)
			case sc == http.StatusForbidden:
				return nil, &Error{Kind: Forbidden, Code: "audience_not_allowed",
					Reason: "this Auth0 application is not authorised for folio's API (no client grant)", Err: cause}
			case sc == http.StatusTooManyRequests:
				return nil, unavailable("auth0_unavailable", "Auth0 is rate limiting token requests; retry later", cause)
			}
		}
		return nil, unavailable("auth0_unavailable", "Auth0 could not be reached to exchange the credentials", cause)
	}
	if tok.AccessToken == "" || (tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "bearer")) {
		return nil, unavailable("auth0_unavailable", "Auth0 answered the exchange without a bearer access token", nil)
	}
	return tok, nil
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
	case out.fetchErr != nil:
		return unavailable("auth0_unavailable", "Auth0's key set cannot be fetched; retry later", cause)
	case out.throttled && !out.keysUsable:
		return unavailable("auth0_unavailable", "Auth0's key set cannot be fetched; retry later", cause)
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
			return &Error{Kind: Forbidden, Code: "audience_mismatch", Reason: "the access token is not for folio's API", Err: cause}
		}
	}
	return unauthenticated("token_invalid", "the access token is not valid", cause)
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

// verifyOutcome is filled in by limitedKeySet during one verification.
type verifyOutcome struct {
	payload    []byte // the signature verified
	throttled  bool   // a key set fetch was needed and refused as too soon
	keysUsable bool   // with throttled: the last fetch succeeded
	fetchErr   error  // the key set could not be fetched
	ctxErr     error
}

type outcomeKey struct{}

// limitedKeySet is go-oidc's remote key set with refetches rate limited.
//
// go-oidc refetches the JWKS whenever no cached key verifies a token (an
// unknown kid, or a forged signature under a known kid), with no limit. Here
// every fetch goes through gate, the transport of the remote key set's HTTP
// client, which admits the first fetch and then at most one per refetch
// window. The gate also keeps the keys of the last good fetch, so this
// wrapper verifies against them first and only calls the remote key set when
// a fetch is both needed and allowed: inside the window, tokens no known key
// verifies are refused without a request and without involving go-oidc.
// Callers that need keys while a fetch is under way wait for it rather than
// being refused, so a burst of first requests (or of requests right after a
// key rotation) all verify against the one fetch.
type limitedKeySet struct {
	remote *oidc.RemoteKeySet
	gate   *jwksGate
}

var _ oidc.KeySet = (*limitedKeySet)(nil)

// errJWKSThrottled means a key set fetch was needed and refused.
var errJWKSThrottled = errors.New("key set refetch skipped: fetched too recently")

// jwksFetchError is a failed key set fetch (network, status, body).
type jwksFetchError struct{ err error }

func (e *jwksFetchError) Error() string { return "fetching the key set: " + e.err.Error() }
func (e *jwksFetchError) Unwrap() error { return e.err }

func (k *limitedKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	payload, err := k.verifySignature(ctx, jwt)
	if out, ok := ctx.Value(outcomeKey{}).(*verifyOutcome); ok {
		var fe *jwksFetchError
		switch {
		case err == nil:
			out.payload = payload
		case errors.Is(err, errJWKSThrottled):
			out.throttled, out.keysUsable = true, k.gate.lastFetchOK()
		case errors.As(err, &fe):
			out.fetchErr = err
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			out.ctxErr = err
		}
	}
	return payload, err
}

func (k *limitedKeySet) verifySignature(ctx context.Context, jwt string) ([]byte, error) {
	// go-oidc has already checked the algorithm; RS256 is all we accept.
	jws, err := jose.ParseSigned(jwt, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("malformed jwt")
	}
	if payload, ok := k.gate.verify(jws); ok {
		return payload, nil
	}
	for attempt := range 20 {
		wait, may := k.gate.state()
		if wait != nil {
			// Another caller's fetch is under way: its keys may be ours.
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if payload, ok := k.gate.verify(jws); ok {
				return payload, nil
			}
			_, may = k.gate.state()
		}
		if !may {
			// A fetch may have ended since the first look at the keys.
			if payload, ok := k.gate.verify(jws); ok {
				return payload, nil
			}
			return nil, errJWKSThrottled
		}
		before := k.gate.attemptCount()
		payload, err := k.remote.VerifySignature(ctx, jwt)
		if err == nil {
			return payload, nil
		}
		// A concurrent caller's fetch may have brought the key (and ours
		// was then refused as too soon).
		if payload, ok := k.gate.verify(jws); ok {
			return payload, nil
		}
		if ctx.Err() != nil || k.gate.attemptCount() != before {
			return nil, err
		}
		// No fetch was tried during the call: go-oidc answered with the
		// result of a fetch that had just finished (its in-flight record
		// outlives the result until its goroutine clears it). Ask again
		// once it has.
		if attempt < 3 {
			runtime.Gosched()
			continue
		}
		select {
		case <-time.After(time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return nil, &jwksFetchError{errors.New("go-oidc did not start a fetch")}
}

// jwksGate is the transport of key set fetches. It admits the first fetch,
// then one per refetch interval after a successful fetch (or per retry
// interval after a failed one); it turns anything but a 200 carrying RS256
// keys into a jwksFetchError, and keeps the keys of the last good fetch.
type jwksGate struct {
	base    http.RoundTripper
	now     func() time.Time
	refetch time.Duration
	retry   time.Duration

	mu        sync.Mutex
	attempted bool
	last      time.Time
	lastOK    bool
	fetching  chan struct{}     // the admitted fetch under way; closed when it ends
	attempts  uint64            // fetches tried, admitted or not
	keys      []jose.JSONWebKey // of the last good fetch; replaced, never modified
}

func (g *jwksGate) lastFetchOK() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastOK
}

func (g *jwksGate) attemptCount() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.attempts
}

// state returns the fetch under way (closed when it ends), if any, and
// whether a new fetch would be admitted now.
func (g *jwksGate) state() (fetching <-chan struct{}, mayFetch bool) {
	now := g.now()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fetching != nil {
		return g.fetching, false
	}
	return nil, g.mayFetchLocked(now)
}

func (g *jwksGate) mayFetchLocked(now time.Time) bool {
	if g.fetching != nil {
		return false
	}
	if !g.attempted {
		return true
	}
	wait := g.refetch
	if !g.lastOK {
		wait = g.retry
	}
	return now.Sub(g.last) >= wait
}

// verify checks jws against the keys of the last good fetch, the way
// go-oidc does: the key with the token's kid, or every key without one.
func (g *jwksGate) verify(jws *jose.JSONWebSignature) ([]byte, bool) {
	g.mu.Lock()
	keys := g.keys
	g.mu.Unlock()
	kid := jws.Signatures[0].Header.KeyID
	for i := range keys {
		if kid == "" || keys[i].KeyID == kid {
			if payload, err := jws.Verify(&keys[i]); err == nil {
				return payload, true
			}
		}
	}
	return nil, false
}

func (g *jwksGate) RoundTrip(req *http.Request) (*http.Response, error) {
	now := g.now()
	g.mu.Lock()
	g.attempts++
	if !g.mayFetchLocked(now) {
		g.mu.Unlock()
		return nil, errJWKSThrottled
	}
	g.attempted, g.last = true, now
	done := make(chan struct{})
	g.fetching = done
	g.mu.Unlock()

	resp, keys, err := g.fetch(req)
	g.mu.Lock()
	g.lastOK = err == nil
	if err == nil {
		g.keys = keys
	}
	g.fetching = nil
	close(done)
	g.mu.Unlock()
	if err != nil {
		return nil, &jwksFetchError{err}
	}
	return resp, nil
}

func (g *jwksGate) fetch(req *http.Request) (*http.Response, []jose.JSONWebKey, error) {
	resp, err := g.base.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("status %s", resp.Status)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, nil, errors.New("the answer is not a key set")
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if json.Unmarshal(raw, &k) != nil {
			continue // a key type go-jose does not know: not ours to use
		}
		if _, rsaKey := k.Key.(*rsa.PublicKey); !rsaKey || (k.Use != "" && k.Use != "sig") ||
			(k.Algorithm != "" && k.Algorithm != string(jose.RS256)) {
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, nil, errors.New("the key set holds no RS256 signing key")
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	return resp, keys, nil
}

// credKey identifies a credential in the token cache: HMAC-SHA256, under a
// random per-process key, of client id, secret and audience. The raw
// secret is never stored, and a cache keyed by client id alone would hand a
// cached token to anyone who knows the id.
type credKey [sha256.Size]byte

type credHasher struct {
	h   hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func (a *Auth0) credKey(clientID, secret string) credKey {
	ch := a.hashers.Get().(*credHasher)
	b := ch.buf[:0]
	for _, s := range [...]string{clientID, secret, a.audience} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	ch.h.Reset()
	ch.h.Write(b)
	clear(b) // the secret does not linger in the pool
	ch.buf = b[:0]
	var k credKey
	copy(k[:], ch.h.Sum(ch.sum[:0]))
	a.hashers.Put(ch)
	return k
}

// cacheEntry is one credential's remembered outcome. Entries are never
// modified after they are stored (they are replaced), so readers need no
// lock once they hold one.
type cacheEntry struct {
	created time.Time
	until   time.Time // used while now < until
	token   string    // the exchanged access token; "" for refused exchanges
	// The verdict: principal (accepted), err (refused), or neither (the
	// token still has to be verified).
	principal *Principal
	err       *Error
}

func (e *cacheEntry) settled() bool { return e.principal != nil || e.err != nil }

func (e *cacheEntry) result() (*Principal, error) {
	if e.err != nil {
		return nil, copyError(e.err)
	}
	return e.principal.clone(), nil
}

func copyError(err error) error {
	if e, ok := err.(*Error); ok {
		c := *e
		return &c
	}
	return err
}

func (a *Auth0) lookup(key credKey) *cacheEntry {
	a.cacheMu.RLock()
	e := a.cache[key]
	a.cacheMu.RUnlock()
	if e == nil || !a.now().Before(e.until) {
		return nil
	}
	return e
}

// store records e, keeping at most maxCached entries: when full, expired
// entries go first, then the oldest.
func (a *Auth0) store(key credKey, e *cacheEntry) {
	a.cacheMu.Lock()
	defer a.cacheMu.Unlock()
	if _, ok := a.cache[key]; !ok && len(a.cache) >= a.maxCached {
		now := a.now()
		for k, old := range a.cache {
			if !now.Before(old.until) {
				delete(a.cache, k)
			}
		}
		for len(a.cache) >= a.maxCached {
			var oldest credKey
			var at time.Time
			first := true
			for k, old := range a.cache {
				if first || old.created.Before(at) {
					oldest, at, first = k, old.created, false
				}
			}
			delete(a.cache, oldest)
		}
	}
	a.cache[key] = e
}

// scrub returns err with every occurrence of the secrets (and, for a
// token, of its signature) removed from its message. When nothing had to be
// removed err is returned as is.
func scrub(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s == "" {
			continue
		}
		clean = strings.ReplaceAll(clean, s, "[redacted]")
		if i := strings.LastIndexByte(s, '.'); i >= 0 && len(s)-i > 8 {
			clean = strings.ReplaceAll(clean, s[i+1:], "[redacted]")
		}
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}
