// Package contentful reads a space from Contentful's Content Delivery API and
// turns it into folio's entry JSON.
//
// The pinned SDK, github.com/contentful-labs/contentful-go v0.4.0, is used for
// what it does well: building query strings (Query) and the shape of sys and
// error bodies. folio does the transport itself because the SDK cannot: it has
// no context.Context, drops the environment from paths, pages forever without a
// limit, can return (nil, nil) on errors, retries 429 recursively without bound
// and panics on some query values. Each of those is guarded here; see the
// README's "Contentful" section.
package contentful

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	sdk "github.com/contentful-labs/contentful-go"
)

// maxResponseBytes bounds what one Delivery API answer may hold. Contentful
// caps responses at about 7 MB; more than this is not a Delivery API answer.
const maxResponseBytes = 64 << 20

// Options configure a Client. Zero values take the documented defaults.
type Options struct {
	BaseURL     string // default https://cdn.contentful.com
	Space       string
	Environment string // default master
	Token       string
	Locale      string // empty: the space's default locale
	// Include is how many levels of links the Delivery API resolves into
	// "includes" (0 means 10, its most). Links between a collection's own
	// items resolve from the items whatever the level; a Renderer with
	// link depth d needs d+2 (past d a linked post is still a summary, with
	// its assets).
	Include int

	// HTTPClient sends the requests; its Transport is used, its Timeout is not
	// relied on because every attempt has its own context deadline.
	HTTPClient *http.Client
	// AttemptTimeout bounds one HTTP attempt (default 20s).
	AttemptTimeout time.Duration
	Retry          RetryPolicy
	// Sleep waits between attempts; tests inject a fake. It must return
	// ctx.Err() when ctx ends first.
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
	// Observe, when set, is told of every HTTP attempt once it ends (for
	// metrics): the label of its context (WithLabel; "" when none), the
	// status the Delivery API answered (0 when none came: a network error
	// or timeout) and whether it retried a failed attempt.
	Observe func(label string, status int, retry bool)
}

// labelKey carries a request's label (WithLabel) in its context.
type labelKey struct{}

// WithLabel returns ctx carrying label, which Options.Observe is given for
// every request made under it: the collection a refresh fetches, say. It
// must be one of a few fixed values (a metrics label).
func WithLabel(ctx context.Context, label string) context.Context {
	return context.WithValue(ctx, labelKey{}, label)
}

// RetryPolicy bounds how hard the client tries. Contentful's own SDKs retry
// 429, 5xx and network errors up to five times; folio does the same, with
// capped exponential backoff and full jitter, and waits a 429's reset time.
type RetryPolicy struct {
	Attempts  int           // total attempts per request (default 5)
	BaseDelay time.Duration // first backoff (default 500ms)
	MaxDelay  time.Duration // backoff cap (default 30s)
	// MaxRateLimitWait is the longest reset folio waits for; a 429 asking for
	// more fails the request at once rather than hold a worker (default 60s).
	MaxRateLimitWait time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.Attempts <= 0 {
		p.Attempts = 5
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 500 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 30 * time.Second
	}
	if p.MaxRateLimitWait <= 0 {
		p.MaxRateLimitWait = time.Minute
	}
	return p
}

// backoff returns the wait before attempt n+1 (n counts from 1): full jitter
// over a capped exponential, so replicas that failed together do not retry
// together.
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.BaseDelay << min(n-1, 20)
	if d <= 0 || d > p.MaxDelay {
		d = p.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// Client talks to one space and environment of the Delivery API.
type Client struct {
	base     *url.URL
	space    string
	env      string
	token    string
	locale   string
	http     *http.Client
	attempt  time.Duration
	retry    RetryPolicy
	sleep    func(context.Context, time.Duration) error
	log      *slog.Logger
	observe  func(label string, status int, retry bool)
	pageSize int
	include  int
}

// New returns a Client; it fails only on options that can never work.
func New(o Options) (*Client, error) {
	if o.BaseURL == "" {
		o.BaseURL = "https://cdn.contentful.com"
	}
	base, err := url.Parse(strings.TrimRight(o.BaseURL, "/"))
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("contentful: invalid base URL %q", o.BaseURL)
	}
	if o.Space == "" {
		return nil, errors.New("contentful: no space id")
	}
	if o.Environment == "" {
		o.Environment = "master"
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	// A redirect would send the Authorization header elsewhere; the Delivery
	// API does not redirect, so refuse.
	hc := *o.HTTPClient
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = 20 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observe == nil {
		o.Observe = func(string, int, bool) {}
	}
	return &Client{
		base: base, space: o.Space, env: o.Environment, token: o.Token, locale: o.Locale,
		http: &hc, attempt: o.AttemptTimeout, retry: o.Retry.withDefaults(), sleep: o.Sleep,
		log: o.Logger, observe: o.Observe, pageSize: maxLimit, include: min(cmp.Or(o.Include, maxInclude), maxInclude),
	}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// APIError is an answer of the Delivery API other than 200.
type APIError struct {
	Status    int
	ID        string // Contentful's sys.id: NotFound, AccessTokenInvalid, RateLimitExceeded, ...
	Message   string
	RequestID string
	// Reset is the X-Contentful-RateLimit-Reset wait of a 429.
	Reset time.Duration
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("contentful: delivery API answered %d", e.Status)
	if e.ID != "" {
		msg += " " + e.ID
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.RequestID != "" {
		msg += " (request " + e.RequestID + ")"
	}
	return msg
}

// Retryable reports whether trying again may succeed: rate limits and server
// faults pass; a bad token or a missing space do not.
func (e *APIError) Retryable() bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// ErrMalformed marks an answer that is not a Delivery API document.
var ErrMalformed = errors.New("contentful: malformed response")

// page is one Delivery API collection answer, decoded just enough to walk.
type page struct {
	Sys      struct{ Type string } `json:"sys"`
	Total    int                   `json:"total"`
	Skip     int                   `json:"skip"`
	Limit    int                   `json:"limit"`
	Items    []json.RawMessage     `json:"items"`
	Includes struct {
		Entry []json.RawMessage `json:"Entry"`
		Asset []json.RawMessage `json:"Asset"`
	} `json:"includes"`
	Errors []json.RawMessage `json:"errors"`
	bytes  int
}

// getPage fetches one page of entries, retrying what may pass.
func (c *Client) getPage(ctx context.Context, q url.Values) (*page, error) {
	return c.getPageOf(ctx, "entries", q)
}

// getPageOf fetches one page of a collection endpoint ("entries" or
// "assets"), retrying what may pass.
func (c *Client) getPageOf(ctx context.Context, endpoint string, q url.Values) (*page, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + "/spaces/" + url.PathEscape(c.space) +
		"/environments/" + url.PathEscape(c.env) + "/" + endpoint
	u.RawQuery = q.Encode()
	target := u.String()

	var last error
	label, _ := ctx.Value(labelKey{}).(string)
	for n := 1; ; n++ {
		p, status, err := c.try(ctx, target)
		c.observe(label, status, n > 1)
		if err == nil {
			return p, nil
		}
		last = err
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (after %d attempts: %v)", ctx.Err(), n, last)
		}
		wait, retry := c.retryAfter(err, n)
		if !retry {
			if n > 1 {
				return nil, fmt.Errorf("after %d attempts: %w", n, last)
			}
			return nil, last
		}
		c.log.Warn("contentful: retrying", "attempt", n, "wait", wait, "error", err)
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%w (after %d attempts: %v)", err, n, last)
		}
	}
}

// retryAfter decides whether attempt n's error is worth another attempt and
// how long to wait first.
func (c *Client) retryAfter(err error, n int) (time.Duration, bool) {
	if n >= c.retry.Attempts {
		return 0, false
	}
	var apiErr *APIError
	switch {
	case errors.As(err, &apiErr):
		if !apiErr.Retryable() {
			return 0, false
		}
		if apiErr.Status == http.StatusTooManyRequests && apiErr.Reset > 0 {
			if apiErr.Reset > c.retry.MaxRateLimitWait {
				return 0, false
			}
			// The reset is when the window reopens; a little jitter keeps
			// replicas from arriving in the same millisecond.
			return apiErr.Reset + rand.N(c.retry.BaseDelay/2+1), true
		}
		return c.retry.backoff(n), true
	default:
		// Network errors, attempt timeouts, and truncated bodies (usually a
		// dropped connection).
		return c.retry.backoff(n), true
	}
}

// try makes one HTTP attempt under its own deadline; status is what the
// Delivery API answered, 0 when no answer came.
func (c *Client) try(ctx context.Context, target string) (p *page, status int, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.attempt)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/vnd.contentful.delivery.v1+json")
	req.Header.Set("User-Agent", "folio (+https://github.com/folio-cms/folio)")
	res, err := c.http.Do(req)
	if err != nil {
		return nil, 0, redactURLError(err)
	}
	defer res.Body.Close()
	status = res.StatusCode
	body, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
	if err != nil {
		return nil, status, fmt.Errorf("contentful: reading the answer: %w", redactURLError(err))
	}
	if len(body) > maxResponseBytes {
		return nil, status, fmt.Errorf("%w: answer larger than %d bytes", ErrMalformed, maxResponseBytes)
	}
	if res.StatusCode != http.StatusOK {
		return nil, status, apiError(res, body)
	}
	p = new(page)
	if err := json.Unmarshal(body, p); err != nil {
		return nil, status, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if p.Sys.Type != "Array" {
		return nil, status, fmt.Errorf("%w: sys.type is %q, want Array", ErrMalformed, p.Sys.Type)
	}
	p.bytes = len(body)
	return p, status, nil
}

func apiError(res *http.Response, body []byte) error {
	e := &APIError{Status: res.StatusCode}
	var er sdk.ErrorResponse
	if json.Unmarshal(body, &er) == nil {
		if er.Sys != nil {
			e.ID = er.Sys.ID
		}
		e.Message = er.Message
		e.RequestID = er.RequestID
	}
	if e.RequestID == "" {
		e.RequestID = res.Header.Get("X-Contentful-Request-Id")
	}
	if s := res.Header.Get("X-Contentful-RateLimit-Reset"); s != "" {
		if secs, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && secs >= 0 {
			e.Reset = time.Duration(secs) * time.Second
		}
	}
	if len(e.Message) > 300 {
		e.Message = e.Message[:300] + "…"
	}
	return e
}

// redactURLError strips the query from a *url.Error so that nothing but the
// path reaches logs. The token travels in a header, but a base URL given by an
// operator could carry one.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			u.RawQuery = ""
			u.User = nil
			return &url.Error{Op: ue.Op, URL: u.String(), Err: ue.Err}
		}
	}
	return err
}

// isTooBig reports a 400 for an answer over Contentful's response size cap;
// a smaller page fixes it.
func isTooBig(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest &&
		strings.Contains(strings.ToLower(apiErr.Message), "size too big")
}
