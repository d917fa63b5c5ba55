package localapi

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// statusClientClosed is recorded for requests that ended because the client
// gave up (its context was cancelled) before an answer was written. 499 is the
// code nginx uses for the same situation.
const statusClientClosed = 499

// Server is an in-process Contentful Content Delivery API for one space and
// one environment. It is an http.Handler, so tests can mount it on
// httptest.NewServer and demo mode on a loopback listener. The zero value is
// not usable; create one with New.
type Server struct {
	// space and environment are fixed at construction and never written
	// again, so they are read without the lock.
	space       string
	environment string

	mu       sync.Mutex
	token    string
	live     map[entityKey]*entity // what the API currently serves
	snap     *snapshot             // sorted view of live; nil after any change
	pending  []change              // lagged changes, applied by ReleaseLag
	faults   []Fault
	delay    time.Duration
	requests []*Request
	seq      uint64 // number of requests seen, for request ids
}

// New returns a Server for the given space and environment that accepts the
// given access token. An empty environment means "master", Contentful's
// default. An empty token is accepted by no request, so a Server is never
// accidentally open; use SetToken to change the token later.
func New(space, environment, token string) *Server {
	if environment == "" {
		environment = "master"
	}
	return &Server{
		space:       space,
		environment: environment,
		token:       token,
		live:        make(map[entityKey]*entity),
	}
}

// SetToken changes the access token the Server accepts, so that tests can
// simulate a revoked or rotated token. Requests with any other token are
// answered 401 AccessTokenInvalid.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

// ServeHTTP answers one Delivery API request. It is safe for concurrent use
// with itself and with every other method.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec, rid, delay := s.begin(r)
	sw := &statusWriter{ResponseWriter: w}
	sw.Header().Set("X-Contentful-Request-Id", rid)
	s.serve(sw, r, rid, delay)
	status := sw.status
	if status == 0 {
		status = statusClientClosed
	}
	s.mu.Lock()
	rec.Status, rec.Bytes, rec.Duration = status, sw.bytes, time.Since(rec.Start)
	s.mu.Unlock()
}

// begin records the request and returns its record, its request id and the
// delay to apply to it.
func (s *Server) begin(r *http.Request) (*Request, string, time.Duration) {
	rec := &Request{Path: r.URL.Path, Query: r.URL.Query(), Start: time.Now()}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	s.requests = append(s.requests, rec)
	return rec, "localapi-" + strconv.FormatUint(s.seq, 10), s.delay
}

// serve does the work of ServeHTTP. It returns without writing anything when
// the client cancels the request during a delay.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rid string, delay time.Duration) {
	if !sleep(r.Context(), delay) {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed",
			"The Content Delivery API is read-only; use GET.", nil, rid)
		return
	}
	rt, ok := parseRoute(r.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, "NotFound", "The resource could not be found.", nil, rid)
		return
	}
	if rt.resource == "entries" {
		if f, ok := s.nextFault(); ok {
			if !sleep(r.Context(), f.Delay) {
				return
			}
			if f.Status != 0 || f.Malformed {
				writeFault(w, f, rid)
				return
			}
		}
	}
	if !s.authorized(r) {
		writeError(w, http.StatusUnauthorized, "AccessTokenInvalid",
			"The access token you sent could not be found or is invalid.", nil, rid)
		return
	}
	if rt.space != s.space {
		writeError(w, http.StatusNotFound, "NotFound", "The resource could not be found.",
			map[string]any{"type": "Space", "id": rt.space}, rid)
		return
	}
	if rt.environment != s.environment {
		writeError(w, http.StatusNotFound, "NotFound", "The resource could not be found.",
			map[string]any{"type": "Environment", "space": rt.space, "id": rt.environment}, rid)
		return
	}
	typ := typeEntry
	if rt.resource == "assets" {
		typ = typeAsset
	}
	q, qerr := parseQuery(r.URL.Query(), typ)
	if qerr != nil {
		writeError(w, http.StatusBadRequest, "InvalidQuery", qerr.message,
			map[string]any{"errors": []any{map[string]any{"name": qerr.name, "path": []string{qerr.param}}}}, rid)
		return
	}
	snap := s.snapshot()
	if rt.id != "" {
		e, ok := snap.byKey[entityKey{typ, rt.id}]
		if !ok {
			writeError(w, http.StatusNotFound, "NotFound", "The resource could not be found.",
				map[string]any{"type": typ, "id": rt.id, "space": s.space, "environment": s.environment}, rid)
			return
		}
		writeJSON(w, http.StatusOK, render(e, q.locale, nil))
		return
	}
	writeJSON(w, http.StatusOK, s.collection(snap, typ, q))
}

// authorized reports whether the request carries the accepted token, in the
// Authorization header or, when that is absent, in access_token.
func (s *Server) authorized(r *http.Request) bool {
	s.mu.Lock()
	want := s.token
	s.mu.Unlock()
	var got string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return false
		}
		got = strings.TrimSpace(tok)
	} else {
		got = r.URL.Query().Get("access_token")
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// route is a parsed request path.
type route struct {
	space, environment string
	resource           string // "entries" or "assets"
	id                 string // set for a single entity
}

// parseRoute recognises /spaces/{space}[/environments/{env}]/{entries|assets}[/{id}].
func parseRoute(path string) (route, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) < 3 || segs[0] != "spaces" || segs[1] == "" {
		return route{}, false
	}
	rt := route{space: segs[1], environment: "master"}
	rest := segs[2:]
	if len(rest) >= 3 && rest[0] == "environments" && rest[1] != "" {
		rt.environment = rest[1]
		rest = rest[2:]
	}
	if rest[0] != "entries" && rest[0] != "assets" {
		return route{}, false
	}
	rt.resource = rest[0]
	switch {
	case len(rest) == 1:
	case len(rest) == 2 && rest[1] != "":
		rt.id = rest[1]
	default:
		return route{}, false
	}
	return rt, true
}

// sleep waits d or until ctx is done, and reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
