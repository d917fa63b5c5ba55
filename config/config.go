// Package config reads folio's settings from the environment.
//
// Every setting is an environment variable (twelve-factor); every secret also
// accepts a NAME_FILE twin holding a path to a file with the value, so Docker
// and Kubernetes secrets work without putting secrets into the environment.
// Load validates everything at once and returns one error that names every bad
// variable, so an operator fixes a deployment in one round trip.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Defaults of the settings in CONTRACT.md.
const (
	DefaultAddr        = ":8080"
	DefaultEnvironment = "master"
	DefaultBaseURL     = "https://cdn.contentful.com"
	DefaultCVTypes     = "profile,experience,education,skill,project"
	DefaultBlogType    = "blogPost"
	DefaultSlugField   = "slug"
	DefaultBlogOrder   = "-fields.publishDate"
	// DefaultSummaryFields are the fields a post summary keeps (those a
	// post has): what a list or a teaser shows.
	DefaultSummaryFields = "title,slug,publishDate,date,excerpt,description,heroImage,hero,tags"
	DefaultPageSize      = 20
	DefaultLinkDepth     = 2
	DefaultWebhookMaxAge = 30 * time.Second
	DefaultRefreshEvery  = 15 * time.Minute
	DefaultCDNWait       = 2 * time.Minute
	// DefaultDedupWindow: Contentful retries a delivery twice, 30 s apart,
	// and says a webhook can in rare cases fire twice; ten minutes covers
	// both with room.
	DefaultDedupWindow = 10 * time.Minute
	// DefaultHistorySize and DefaultHistoryAge bound the event history:
	// a week of a busy space's webhooks, a few hundred KB.
	DefaultHistorySize = 1000
	DefaultHistoryAge  = 7 * 24 * time.Hour
)

// Config is folio's complete configuration. Secrets are held as Secret so that
// printing a Config (or logging it by mistake) never reveals them.
type Config struct {
	Addr string
	// PublicURL is folio's public base URL as callers see it, when a proxy
	// in front strips a path prefix (https://example.com/folio); nil when
	// unset. It has no trailing slash, query, fragment or credentials.
	PublicURL *url.URL

	// Demo is true when no CONTENTFUL_SPACE_ID is set: folio serves its
	// built-in sample space.
	Demo        bool
	SpaceID     string
	AccessToken Secret
	Environment string
	BaseURL     string
	Locale      string

	CVTypes   []string
	BlogType  string
	SlugField string
	BlogOrder string
	// BlogPageSize is the number of post summaries on a /blog page;
	// BlogFullList serves every post in full at /blog instead
	// (FOLIO_BLOG_LIST=full).
	BlogPageSize  int
	BlogFullList  bool
	SummaryFields []string
	// LinkDepth is how many links deep entries are rendered in full.
	LinkDepth int

	WebhookSecret Secret
	WebhookMaxAge time.Duration
	// DedupWindow is how long an accepted change is remembered.
	DedupWindow time.Duration

	// RefreshEvery is the safety refresh period (0 disables it); CDNWait
	// bounds how long an event waits for the Delivery API to serve it.
	RefreshEvery time.Duration
	CDNWait      time.Duration
	// HistorySize bounds the event history's events (and, apart, its dead
	// letters); HistoryAge their age (0: no age bound).
	HistorySize int
	HistoryAge  time.Duration

	// Auth0IssuerURL is the exact issuer (with trailing slash for AUTH0_DOMAIN).
	Auth0IssuerURL      string
	Auth0Audience       string
	Auth0AllowedClients []string
	Auth0RequiredScope  string

	RedisURL Secret
	// RedisLeaseTTL bounds how long a dead leader holds the other replicas
	// back; RedisClaimIdle how long its unacknowledged events wait before
	// another replica redoes them.
	RedisLeaseTTL  time.Duration
	RedisClaimIdle time.Duration

	CORSOrigins []string
	LogFormat   string
}

// Auth0Enabled reports whether Auth0 machine-to-machine authentication is configured.
func (c Config) Auth0Enabled() bool { return c.Auth0IssuerURL != "" }

// Secret is a string that never prints. Use Reveal where the value is needed.
type Secret string

// String hides the value; fmt and slog use it.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v.
func (s Secret) GoString() string { return s.String() }

// MarshalText hides the value from encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret value for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// Lookup reads one environment variable; os.LookupEnv fits.
type Lookup func(name string) (string, bool)

// Error lists every invalid variable found by Load.
type Error struct {
	Problems map[string]string // variable name → what is wrong
}

func (e *Error) Error() string {
	names := make([]string, 0, len(e.Problems))
	for n := range e.Problems {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("invalid configuration:")
	for _, n := range names {
		fmt.Fprintf(&b, "\n  %s: %s", n, e.Problems[n])
	}
	return b.String()
}

// reader collects values and problems while Load walks the settings.
type reader struct {
	lookup   Lookup
	problems map[string]string
}

func (r *reader) bad(name, format string, args ...any) {
	if _, seen := r.problems[name]; !seen {
		r.problems[name] = fmt.Sprintf(format, args...)
	}
}

func (r *reader) str(name, def string) string {
	v, ok := r.lookup(name)
	v = strings.TrimSpace(v)
	if !ok || v == "" {
		return def
	}
	return v
}

// secret reads NAME or the file named by NAME_FILE; setting both is an error
// because one of them would be silently ignored.
func (r *reader) secret(name string) Secret {
	v, hasValue := r.lookup(name)
	path, hasFile := r.lookup(name + "_FILE")
	hasValue = hasValue && v != ""
	hasFile = hasFile && path != ""
	switch {
	case hasValue && hasFile:
		r.bad(name, "set either %s or %s_FILE, not both", name, name)
		return ""
	case hasFile:
		b, err := os.ReadFile(path)
		if err != nil {
			// The error names the path, never the content.
			r.bad(name+"_FILE", "cannot read the secret file: %v", unwrapPathError(err))
			return ""
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			r.bad(name+"_FILE", "the secret file %s is empty", path)
		}
		return Secret(s)
	default:
		return Secret(v)
	}
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

func (r *reader) list(name, def string) []string {
	raw := r.str(name, def)
	var out []string
	seen := map[string]bool{}
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" || seen[part] {
			continue
		}
		seen[part] = true
		out = append(out, part)
	}
	return out
}

// durationOrZero is duration where "0" means off.
func (r *reader) durationOrZero(name string, def time.Duration) time.Duration {
	if r.str(name, "") == "0" {
		return 0
	}
	return r.duration(name, def)
}

// intIn reads a whole number within [lo, hi].
func (r *reader) intIn(name string, def, lo, hi int) int {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		r.bad(name, "want a whole number from %d to %d, got %q", lo, hi, raw)
		return def
	}
	return n
}

func (r *reader) duration(name string, def time.Duration) time.Duration {
	raw := r.str(name, "")
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		r.bad(name, "want a positive duration such as 30s or 2m, got %q", raw)
		return def
	}
	return d
}

// Load reads and validates the whole configuration. On any problem it returns
// an *Error naming every bad variable; the Config is then not usable.
func Load(lookup Lookup) (Config, error) {
	r := &reader{lookup: lookup, problems: map[string]string{}}
	c := Config{
		Addr:           r.str("FOLIO_ADDR", DefaultAddr),
		SpaceID:        r.str("CONTENTFUL_SPACE_ID", ""),
		AccessToken:    r.secret("CONTENTFUL_ACCESS_TOKEN"),
		Environment:    r.str("CONTENTFUL_ENVIRONMENT", DefaultEnvironment),
		BaseURL:        strings.TrimRight(r.str("CONTENTFUL_BASE_URL", DefaultBaseURL), "/"),
		Locale:         r.str("CONTENTFUL_LOCALE", ""),
		CVTypes:        r.list("FOLIO_CV_TYPES", DefaultCVTypes),
		BlogType:       r.str("FOLIO_BLOG_TYPE", DefaultBlogType),
		SlugField:      r.str("FOLIO_BLOG_SLUG_FIELD", DefaultSlugField),
		BlogOrder:      r.str("FOLIO_BLOG_ORDER", DefaultBlogOrder),
		BlogPageSize:   r.intIn("FOLIO_BLOG_PAGE_SIZE", DefaultPageSize, 1, 1000),
		SummaryFields:  r.list("FOLIO_BLOG_SUMMARY_FIELDS", DefaultSummaryFields),
		LinkDepth:      r.intIn("FOLIO_LINK_DEPTH", DefaultLinkDepth, 1, 10),
		WebhookSecret:  r.secret("CONTENTFUL_WEBHOOK_SECRET"),
		WebhookMaxAge:  r.duration("FOLIO_WEBHOOK_MAX_AGE", DefaultWebhookMaxAge),
		DedupWindow:    r.duration("FOLIO_DEDUP_WINDOW", DefaultDedupWindow),
		RefreshEvery:   r.durationOrZero("FOLIO_REFRESH_INTERVAL", DefaultRefreshEvery),
		CDNWait:        r.duration("FOLIO_CDN_WAIT", DefaultCDNWait),
		HistorySize:    r.intIn("FOLIO_EVENT_HISTORY_SIZE", DefaultHistorySize, 1, 10_000),
		HistoryAge:     r.durationOrZero("FOLIO_EVENT_HISTORY_AGE", DefaultHistoryAge),
		Auth0Audience:  r.str("AUTH0_AUDIENCE", ""),
		RedisURL:       r.secret("REDIS_URL"),
		RedisLeaseTTL:  r.duration("FOLIO_REDIS_LEASE_TTL", 10*time.Second),
		RedisClaimIdle: r.duration("FOLIO_REDIS_CLAIM_IDLE", 30*time.Second),
		CORSOrigins:    r.list("FOLIO_CORS_ORIGINS", ""),
		LogFormat:      r.str("FOLIO_LOG_FORMAT", ""),
	}
	c.Demo = c.SpaceID == ""
	switch list := r.str("FOLIO_BLOG_LIST", "pages"); list {
	case "pages":
	case "full":
		c.BlogFullList = true
	default:
		r.bad("FOLIO_BLOG_LIST", "want pages or full, got %q", list)
	}
	for _, f := range c.SummaryFields {
		if !validID(f, false) {
			r.bad("FOLIO_BLOG_SUMMARY_FIELDS", "%q is not a field id", f)
		}
	}
	c.Auth0AllowedClients = r.list("FOLIO_AUTH0_ALLOWED_CLIENTS", "")
	c.Auth0RequiredScope = r.str("FOLIO_AUTH0_REQUIRED_SCOPE", "")

	c.PublicURL = r.publicURL("FOLIO_PUBLIC_URL")
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		r.bad("FOLIO_ADDR", "want host:port or :port, got %q", c.Addr)
	}
	if !c.Demo && c.AccessToken == "" {
		if _, fileProblem := r.problems["CONTENTFUL_ACCESS_TOKEN_FILE"]; !fileProblem {
			r.bad("CONTENTFUL_ACCESS_TOKEN", "required when CONTENTFUL_SPACE_ID is set")
		}
	}
	if !validID(c.SpaceID, true) {
		r.bad("CONTENTFUL_SPACE_ID", "want letters, digits, '-' or '_', got %q", c.SpaceID)
	}
	if !validID(c.Environment, false) {
		r.bad("CONTENTFUL_ENVIRONMENT", "want letters, digits, '-', '_' or '.', got %q", c.Environment)
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		r.bad("CONTENTFUL_BASE_URL", "want an absolute http(s) URL, got %q", c.BaseURL)
	}
	if len(c.CVTypes) == 0 {
		r.bad("FOLIO_CV_TYPES", "name at least one content type")
	}
	for _, t := range c.CVTypes {
		if !validID(t, false) {
			r.bad("FOLIO_CV_TYPES", "%q is not a content type id", t)
		}
		if t == c.BlogType {
			r.bad("FOLIO_CV_TYPES", "%q is also FOLIO_BLOG_TYPE; a type belongs to one collection", t)
		}
	}
	if !validID(c.BlogType, false) {
		r.bad("FOLIO_BLOG_TYPE", "%q is not a content type id", c.BlogType)
	}
	if !validID(c.SlugField, false) {
		r.bad("FOLIO_BLOG_SLUG_FIELD", "%q is not a field id", c.SlugField)
	}
	if !validOrder(c.BlogOrder) {
		r.bad("FOLIO_BLOG_ORDER", "want comma-separated [-]sys.X or [-]fields.X, got %q", c.BlogOrder)
	}
	if s := c.WebhookSecret.Reveal(); s != "" && !validSigningSecret(s) {
		r.bad("CONTENTFUL_WEBHOOK_SECRET", "want exactly 64 characters of [0-9a-zA-Z+/=_-] (the value is not shown)")
	}
	c.Auth0IssuerURL = r.auth0Issuer()
	if c.Auth0IssuerURL != "" && c.Auth0Audience == "" {
		r.bad("AUTH0_AUDIENCE", "required when AUTH0_DOMAIN or AUTH0_ISSUER_URL is set")
	}
	if c.Auth0IssuerURL == "" && c.Auth0Audience != "" {
		r.bad("AUTH0_DOMAIN", "AUTH0_AUDIENCE is set but neither AUTH0_DOMAIN nor AUTH0_ISSUER_URL is")
	}
	if u := c.RedisURL.Reveal(); u != "" {
		if p, err := url.Parse(u); err != nil || !redisSchemes[p.Scheme] {
			r.bad("REDIS_URL", "want redis://, rediss:// or unix:// (the value is not shown)")
		}
	}
	c.CORSOrigins = r.origins("FOLIO_CORS_ORIGINS", c.CORSOrigins)
	switch c.LogFormat {
	case "", "json", "text":
	default:
		r.bad("FOLIO_LOG_FORMAT", "want json or text, got %q", c.LogFormat)
	}

	if len(r.problems) > 0 {
		return Config{}, &Error{Problems: r.problems}
	}
	return c, nil
}

// publicURL reads FOLIO_PUBLIC_URL-like settings (ParsePublicURL).
func (r *reader) publicURL(name string) *url.URL {
	raw := r.str(name, "")
	if raw == "" {
		return nil
	}
	u, err := ParsePublicURL(raw)
	if err != nil {
		r.bad(name, "%v", err)
	}
	return u
}

// ParsePublicURL checks a public base URL (FOLIO_PUBLIC_URL): absolute
// http(s), a host, a path prefix or none, and no credentials (they would be
// shown), query or fragment (a request path carries neither) or empty, "."
// or ".." path segments. A trailing slash is dropped. The error never
// repeats credentials.
func ParsePublicURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Opaque != "":
		if err == nil && u.User != nil {
			raw = u.Redacted()
		}
		return nil, fmt.Errorf("want folio's public base URL such as https://example.com or https://example.com/folio, got %q", raw)
	case u.User != nil:
		return nil, errors.New("must not hold credentials (the value is not shown)")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("want a base URL without a query or fragment, got %q", raw)
	}
	clean := strings.TrimSuffix(u.Path, "/")
	if clean != "" && slices.ContainsFunc(strings.Split(clean, "/")[1:], func(seg string) bool {
		return seg == "" || seg == "." || seg == ".."
	}) {
		return nil, fmt.Errorf("want a path without empty, . or .. segments, got %q", raw)
	}
	u.Path = clean
	u.RawPath = strings.TrimSuffix(u.RawPath, "/")
	return u, nil
}

var redisSchemes = map[string]bool{"redis": true, "rediss": true, "unix": true}

func (r *reader) auth0Issuer() string {
	issuer := r.str("AUTH0_ISSUER_URL", "")
	domain := r.str("AUTH0_DOMAIN", "")
	if issuer != "" {
		if u, err := url.Parse(issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			r.bad("AUTH0_ISSUER_URL", "want an absolute URL such as https://tenant.eu.auth0.com/, got %q", issuer)
		}
		return issuer
	}
	if domain == "" {
		return ""
	}
	if strings.Contains(domain, "/") || strings.Contains(domain, ":") {
		r.bad("AUTH0_DOMAIN", "want a host such as tenant.eu.auth0.com (no scheme or path), got %q", domain)
		return ""
	}
	// A host is case-insensitive, but the issuer is compared exactly with
	// the token's iss, which Auth0 writes in lower case.
	return "https://" + strings.ToLower(domain) + "/"
}

// origins normalises a list of CORS origins (ParseOrigin), "*" kept as is,
// dropping the duplicates normalising makes.
func (r *reader) origins(name string, list []string) []string {
	var out []string
	for _, o := range list {
		if o != "*" {
			var err error
			if o, err = ParseOrigin(o); err != nil {
				r.bad(name, "%v", err)
				continue
			}
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

func validID(s string, allowEmpty bool) bool {
	if s == "" {
		return allowEmpty
	}
	if len(s) > 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

func validOrder(s string) bool {
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "-")
		name, ok := strings.CutPrefix(part, "fields.")
		if !ok {
			name, ok = strings.CutPrefix(part, "sys.")
		}
		if !ok || !validID(name, false) {
			return false
		}
	}
	return true
}

func validSigningSecret(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("+/=_-", c):
		default:
			return false
		}
	}
	return true
}
