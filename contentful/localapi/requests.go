package localapi

import (
	"net/http"
	"net/url"
	"slices"
	"time"
)

// Request is what the Server recorded about one request it received, so that
// tests can assert how a client used the API (how many pages it fetched,
// whether it retried, with which parameters).
type Request struct {
	// Path is the URL path, e.g. /spaces/x/environments/master/entries.
	Path string
	// Query is the parsed query string.
	Query url.Values
	// Status is the HTTP status of the answer; 0 while the request is still
	// being handled, and 499 when the client cancelled it before an answer
	// was written.
	Status int
	// Start is when the Server began handling the request, and Duration how
	// long its handler took, the configured delay, a fault's delay and
	// writing the answer included: the API's own share of a client's wait.
	// Duration is 0 while the request is being handled.
	Start    time.Time
	Duration time.Duration
	// Bytes is the size of the answer's body; 0 while it is being handled.
	Bytes int
}

// Requests returns a copy of every request recorded since New or the last
// Reset, in the order they arrived, so tests can inspect how a client used
// the API.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = *r
		out[i].Query = cloneValues(r.Query)
	}
	return out
}

// Count returns how many recorded requests satisfy filter, or all of them
// when filter is nil; it saves tests from looping over Requests. filter is
// called without the Server's lock held, so it may call the Server.
func (s *Server) Count(filter func(Request) bool) int {
	n := 0
	for _, r := range s.Requests() {
		if filter == nil || filter(r) {
			n++
		}
	}
	return n
}

// Reset forgets the recorded requests, so a test can count only what happens
// after a point. Content, faults, delay and token are kept.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
}

// statusWriter records the status and the number of body bytes written
// through it, for Request.Status and Request.Bytes.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

// WriteHeader records status and passes it on.
func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

// Write records an implicit 200 and passes b on.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// cloneValues returns a deep copy of v.
func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}
