package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	lru "github.com/hashicorp/golang-lru/v2"
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
	DefaultAuth0ExchangeRate   = 1.0 // exchanges per second, all unproven credentials together
	DefaultAuth0ExchangeBurst  = 5
	// Proven credentials (accepted by Auth0 before, in this process) have
	// a ceiling of their own.
	DefaultAuth0ProvenExchangeRate  = 1.0
	DefaultAuth0ProvenExchangeBurst = 5
	// Each caller (a client id, or a proven credential): one exchange per
	// 10 s, three at once. A real client needs one a day.
	DefaultAuth0CallerExchangeRate  = 0.1
	DefaultAuth0CallerExchangeBurst = 3
	DefaultAuth0MaxCallers          = 10_000
	DefaultAuth0MaxCached           = 1000
	DefaultAuth0ClockSkew           = 30 * time.Second
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
	// FailureTTL is how long a refusal of Basic credentials is remembered
	// and answered without asking Auth0: a refused exchange (wrong secret,
	// no client grant) and a refused token (client, scope, grant type);
	// default 30 s.
	FailureTTL time.Duration
	// ExchangeRate and ExchangeBurst limit client-credentials exchanges
	// of credentials Auth0 has not accepted before in this process, all
	// together (a token bucket); defaults 1/s and 5.
	ExchangeRate  float64
	ExchangeBurst int
	// ProvenExchangeRate and ProvenExchangeBurst limit the exchanges of
	// credentials Auth0 has accepted before (renewals), all together, on
	// a bucket nothing else draws on; defaults 1/s and 5.
	ProvenExchangeRate  float64
	ProvenExchangeBurst int
	// CallerExchangeRate and CallerExchangeBurst limit each caller (a
	// client id, or a proven credential) on its own; defaults 0.1/s and 3.
	CallerExchangeRate  float64
	CallerExchangeBurst int
	// MaxCallers bounds the per-caller buckets, the proven credentials and
	// the remembered refusals (each least recently used first); default
	// 10,000.
	MaxCallers int
	// MaxCachedTokens bounds the exchanged-token cache; default 1,000.
	MaxCachedTokens int
	// ClockSkew is how long after exp a token is still accepted; default
	// 30 s. Negative means none.
	ClockSkew time.Duration

	// OnExchange, when set, is told the outcome of every client-credentials
	// exchange (metrics): ExchangeOK, or the Error code of the refusal
	// (invalid_client_credentials, audience_not_allowed, auth0_unavailable,
	// auth0_misconfigured), or auth0_exchange_throttled for one folio's
	// limits refused before asking Auth0.
	OnExchange func(outcome string)
	// OnCache, when set, is told of every Basic lookup in the token cache:
	// CacheHit (a token), CacheRefused (a remembered refusal) or CacheMiss
	// (an exchange, or a wait for one). It is called on the cached path, so
	// it must not allocate.
	OnCache func(result string)
}

// The outcomes Auth0Config's OnExchange and OnCache report.
const (
	ExchangeOK   = "ok"
	CacheHit     = "hit"
	CacheRefused = "refused"
	CacheMiss    = "miss"
)

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
	gate          *jwksGate    // jwksClient's transport
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

	// Exchanged tokens, keyed by an HMAC of client id, secret and audience;
	// refusals apart, so that a flood of them cannot evict a token.
	hmacKey []byte
	hashers sync.Pool
	cacheMu sync.RWMutex
	cache   map[credKey]*cacheEntry
	refused *lru.Cache[credKey, *cacheEntry]
	flights singleflight.Group
	limits  *exchangeLimits

	// What /status and /readyz say about Auth0; see auth0_state.go.
	state auth0State

	// Warnings an attacker could repeat are logged at most once per 10 s.
	throttleLog   rate.Sometimes
	unknownKey    rate.Sometimes
	unverifiedLog rate.Sometimes

	onExchange func(outcome string) // never nil
	onCache    func(result string)  // never nil
}

// auth0Backend is what discovery yields: one provider and one verifier for
// the process.
type auth0Backend struct {
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	keys     *limitedKeySet
	tokenURL string
	jwksURL  string
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
	if cfg.ExchangeRate < 0 || cfg.ExchangeBurst < 0 || cfg.ProvenExchangeRate < 0 || cfg.ProvenExchangeBurst < 0 ||
		cfg.CallerExchangeRate < 0 || cfg.CallerExchangeBurst < 0 || cfg.MaxCallers < 0 || cfg.MaxCachedTokens < 0 {
		problems = append(problems, "exchange rates, bursts and cache sizes must not be negative")
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
		unverifiedLog:  rate.Sometimes{First: 1, Interval: 10 * time.Second},
	}
	if cfg.ClockSkew < 0 {
		a.skew = 0
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	a.onExchange, a.onCache = cfg.OnExchange, cfg.OnCache
	if a.onExchange == nil {
		a.onExchange = func(string) {}
	}
	if a.onCache == nil {
		a.onCache = func(string) {}
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

	a.limits = newExchangeLimits(cfg, a.now)
	a.refused, _ = lru.New[credKey, *cacheEntry](orDefaultI(cfg.MaxCallers, DefaultAuth0MaxCallers))
	a.state.init(a.log)

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
	a.gate = &jwksGate{base: base, now: a.now, refetch: a.jwksRefetch, retry: a.discoveryRetry,
		report: func(err error) { a.state.jwks.record(a.now(), err) }}
	jc.Transport = a.gate
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
