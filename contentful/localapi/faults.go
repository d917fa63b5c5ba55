package localapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// malformedBody is the answer of a Malformed fault: the start of a collection
// cut off mid-item, as a proxy that drops a connection would leave it.
const malformedBody = `{"sys":{"type":"Array"},"total":1,"skip":0,"limit":100,"items":[{"sys":{"type":"Entry","id":"`

// Fault is one scripted misbehaviour of the API, so that tests can check how
// a client copes with Contentful's rate limits, outages, broken answers and
// slowness. Faults queued with Script are consumed one per request to an
// entries endpoint (collection or single entry), in order, before the request
// is otherwise handled; a zero Fault consumes a turn and answers normally,
// which lets a script target, say, only the second request.
type Fault struct {
	// Status, when not 0, is the HTTP status of the answer, with a
	// Contentful-shaped error body (RateLimitExceeded for 429, ServerError
	// for 500, ServiceUnavailable for 503 ...).
	Status int
	// Reset is, with Status 429, the value in seconds of the
	// X-Contentful-RateLimit-Reset header, which tells clients how long to
	// wait before retrying.
	Reset int
	// Malformed makes the body truncated, invalid JSON. The status is 200
	// unless Status is also set.
	Malformed bool
	// Delay holds the answer back this long, or until the client cancels
	// the request, before the request is answered with Status or normally.
	Delay time.Duration
}

// Script appends faults to the queue consumed by requests to the entries
// endpoints, so tests can reproduce rate limiting, outages, malformed answers
// and slow answers in a precise order.
func (s *Server) Script(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// SetDelay makes every request wait d before it is handled, to simulate a
// slow API. A request whose context is cancelled during the wait is abandoned
// without an answer. Zero removes the delay.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// nextFault pops the next scripted fault, if any.
func (s *Server) nextFault() (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return Fault{}, false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f, true
}

// errorIDs maps the statuses a Fault may carry to Contentful's error ids.
var errorIDs = map[int]string{
	http.StatusBadRequest:          "BadRequest",
	http.StatusUnauthorized:        "AccessTokenInvalid",
	http.StatusForbidden:           "AccessDenied",
	http.StatusNotFound:            "NotFound",
	http.StatusTooManyRequests:     "RateLimitExceeded",
	http.StatusInternalServerError: "ServerError",
	http.StatusBadGateway:          "BadGateway",
	http.StatusServiceUnavailable:  "ServiceUnavailable",
	http.StatusGatewayTimeout:      "GatewayTimeout",
}

// writeFault answers with a scripted fault's status and body.
func writeFault(w http.ResponseWriter, f Fault, rid string) {
	status := f.Status
	if status == 0 {
		status = http.StatusOK
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("X-Contentful-RateLimit-Reset", strconv.Itoa(f.Reset))
	}
	if f.Malformed {
		writeBody(w, status, []byte(malformedBody))
		return
	}
	id := errorIDs[status]
	if id == "" {
		id = strings.ReplaceAll(http.StatusText(status), " ", "")
	}
	msg := http.StatusText(status)
	if status == http.StatusTooManyRequests {
		msg = "Ratelimit Exceeded" // exactly as in fixtures/contentful/ratelimit.json
	}
	writeError(w, status, id, msg, nil, rid)
}
