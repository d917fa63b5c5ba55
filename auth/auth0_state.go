package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// The states of Auth0 on /status (Auth0Status.State).
const (
	// Auth0Pending: discovery or the first key set fetch has not been
	// tried yet.
	Auth0Pending = "pending"
	// Auth0OK: discovered, keys fetched, the last exchange (if any) worked.
	Auth0OK = "ok"
	// Auth0Degraded: tokens can be verified, but the last key set fetch or
	// the last client-credentials exchange failed.
	Auth0Degraded = "degraded"
	// Auth0Failing: no webhook can be authenticated with Auth0: discovery
	// failed, or no key set has ever been fetched.
	Auth0Failing = "failing"
)

// causeError is a failed call to Auth0 with a stable class, for /status,
// the answer's reason and the one log line that names it.
type causeError struct {
	class string // snake_case: issuer_mismatch, discovery_not_found, jwks_unreachable, ...
	// config: a configuration problem (AUTH0_DOMAIN, AUTH0_AUDIENCE, the
	// tenant's settings) rather than an outage that passes by itself.
	config bool
	detail string // a sentence naming URLs and statuses, never a secret
	err    error  // the library's error, for the log
}

func (e *causeError) Error() string {
	if e.err != nil {
		return e.detail + ": " + e.err.Error()
	}
	return e.detail
}

func (e *causeError) Unwrap() error { return e.err }

// statusCause classifies an answer other than 200 from url.
func statusCause(prefix, what, url string, status int) *causeError {
	c := &causeError{class: prefix + "_status", config: status < 500 && status != http.StatusTooManyRequests,
		detail: fmt.Sprintf("%s %s answered %d %s", what, url, status, http.StatusText(status))}
	if status == http.StatusNotFound {
		c.class = prefix + "_not_found"
	}
	return c
}

// Outcome is the last result of one kind of call folio makes to Auth0.
type Outcome struct {
	At time.Time `json:"at"`
	OK bool      `json:"ok"`
	// Error is the class of the failure (issuer_mismatch,
	// discovery_not_found, discovery_status, discovery_unreachable,
	// discovery_invalid, jwks_not_found, jwks_status, jwks_unreachable,
	// jwks_invalid, audience_not_allowed, token_endpoint_unavailable,
	// token_endpoint_invalid); Detail says it in a sentence. Neither ever
	// holds a secret or a token.
	Error  string `json:"error,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// tracker keeps one kind of call's last outcome and logs when it starts
// failing, changes cause or works again: once per cause, never per request.
type tracker struct {
	what string
	log  *slog.Logger
	mu   sync.Mutex
	last *Outcome
}

// record notes err (nil for success) at. Errors that are not a
// *causeError are recorded under the class "error".
func (t *tracker) record(at time.Time, err error) {
	o := &Outcome{At: at.UTC(), OK: err == nil}
	var c *causeError
	if err != nil {
		if !errors.As(err, &c) {
			c = &causeError{class: "error", detail: t.what + " failed", err: err}
		}
		o.Error, o.Detail = c.class, c.detail
	}
	t.mu.Lock()
	prev := t.last
	t.last = o
	t.mu.Unlock()
	switch {
	case err == nil && prev != nil && !prev.OK:
		t.log.Info("auth0: "+t.what+" works again", "was", prev.Error)
	case err != nil && (prev == nil || prev.OK || prev.Error != o.Error):
		kind := "an outage"
		if c.config {
			kind = "a configuration problem"
		}
		attrs := []any{"class", c.class, "detail", c.detail}
		if c.err != nil {
			attrs = append(attrs, "error", c.err)
		}
		t.log.Error("auth0: "+t.what+" failed, "+kind+"; webhooks that need it are refused until it works (logged once per cause; /status shows it)",
			attrs...)
	}
}

func (t *tracker) get() *Outcome {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		return nil
	}
	o := *t.last
	return &o
}

// Refusal is the last refusal of a caller whose credentials Auth0 vouched
// for (a valid token that may not do this, or an exchange Auth0 refused
// for the audience): most often a configuration mismatch between folio
// and the tenant. Made-up credentials never show here.
type Refusal struct {
	At   time.Time `json:"at"`
	Code string    `json:"code"`
}

type auth0State struct {
	discovery, jwks, exchange tracker

	mu      sync.Mutex
	refusal *Refusal
}

func (s *auth0State) init(log *slog.Logger) {
	s.discovery = tracker{what: "discovery", log: log}
	s.jwks = tracker{what: "key set fetch", log: log}
	s.exchange = tracker{what: "client-credentials exchange", log: log}
}

func (s *auth0State) refused(at time.Time, code string) {
	s.mu.Lock()
	s.refusal = &Refusal{At: at.UTC(), Code: code}
	s.mu.Unlock()
}

// Auth0Status is Auth0's section of /status: what folio knows of the
// issuer, without a secret, a token or a client id.
type Auth0Status struct {
	Issuer   string `json:"issuer"`
	Audience string `json:"audience"`
	// State is Auth0Pending, Auth0OK, Auth0Degraded or Auth0Failing;
	// Problem says why when it is not ok.
	State       string       `json:"state"`
	Problem     string       `json:"problem,omitempty"`
	Discovery   *Outcome     `json:"discovery,omitempty"`
	JWKS        *Outcome     `json:"jwks,omitempty"`
	Exchange    *Outcome     `json:"exchange,omitempty"`
	LastRefusal *Refusal     `json:"lastRefusal,omitempty"`
	Limits      LimitsStatus `json:"limits"`
}

// Status reports Auth0's state for /status and /readyz.
func (a *Auth0) Status() Auth0Status {
	st := Auth0Status{
		Issuer: a.issuer, Audience: a.audience,
		Discovery: a.state.discovery.get(), JWKS: a.state.jwks.get(), Exchange: a.state.exchange.get(),
		Limits: a.limits.status(),
	}
	a.state.mu.Lock()
	if r := a.state.refusal; r != nil {
		c := *r
		st.LastRefusal = &c
	}
	a.state.mu.Unlock()
	problem := func(o *Outcome) string { return o.Error + ": " + o.Detail }
	switch {
	case a.backend.Load() == nil && (st.Discovery == nil || st.Discovery.OK):
		st.State = Auth0Pending
	case a.backend.Load() == nil:
		st.State, st.Problem = Auth0Failing, problem(st.Discovery)
	case st.JWKS == nil:
		st.State = Auth0Pending
	case !st.JWKS.OK && !a.gate.hasKeys():
		st.State, st.Problem = Auth0Failing, problem(st.JWKS)
	case !st.JWKS.OK:
		st.State, st.Problem = Auth0Degraded, problem(st.JWKS)
	case st.Exchange != nil && !st.Exchange.OK:
		st.State, st.Problem = Auth0Degraded, problem(st.Exchange)
	default:
		st.State = Auth0OK
	}
	return st
}

// Check discovers the issuer and fetches its key set now, unless a recent
// failure or fetch says to wait (DiscoveryRetry, JWKSRefetch), so that
// /status and /readyz know of a misconfiguration before the first webhook,
// and the first webhook finds the keys fetched.
func (a *Auth0) Check(ctx context.Context) {
	be, e := a.discovered(ctx)
	if e != nil {
		return
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, be.jwksURL, nil)
	if err != nil {
		return
	}
	if res, err := a.jwksClient.Do(req); err == nil {
		res.Body.Close()
	}
}

// Watch runs Check at once and then, while Auth0 is failing or pending,
// again after DiscoveryRetry, doubling up to five minutes; it returns once
// discovery and a key set fetch have worked, or when ctx ends.
func (a *Auth0) Watch(ctx context.Context) {
	wait := a.discoveryRetry
	for {
		a.Check(ctx)
		if s := a.Status().State; s == Auth0OK || s == Auth0Degraded {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, 5*time.Minute)
	}
}
