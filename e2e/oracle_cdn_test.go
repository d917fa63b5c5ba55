package e2e

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/folio-cms/folio/contentful/localapi"
)

// cdn is the Delivery API as folio sees it in the oracle: a front handler
// that answers each request from one of a few edges chosen at random. Each
// edge is a localapi.Server that applies the editor's changes in order, each
// after its own random delay, so edges disagree and one request may see older
// content than the one before. The front also injects faults.
type cdn struct {
	edges  []*cdnEdge
	maxLag time.Duration

	mu        sync.Mutex
	rnd       *rand.Rand // edge and fault choice
	faultRate float64
	changes   int // changes pushed to every edge

	faults   atomic.Int64
	requests atomic.Int64
}

type cdnEdge struct {
	api     *localapi.Server
	queue   chan dueChange
	applied atomic.Int64
	done    chan struct{}
}

type dueChange struct {
	c   *cdnChange
	due time.Time
}

func newCDN(edges int, maxLag time.Duration, seed int64) *cdn {
	c := &cdn{maxLag: maxLag, rnd: rand.New(rand.NewPCG(uint64(seed), 0xcd))}
	for range edges {
		e := &cdnEdge{api: localapi.New("s", "master", token), queue: make(chan dueChange, 4096), done: make(chan struct{})}
		go e.run()
		c.edges = append(c.edges, e)
	}
	return c
}

func (e *cdnEdge) run() {
	defer close(e.done)
	for d := range e.queue {
		if w := time.Until(d.due); w > 0 {
			time.Sleep(w)
		}
		apply(e.api, d.c)
		e.applied.Add(1)
	}
}

func apply(api *localapi.Server, c *cdnChange) {
	if len(c.put) > 0 {
		if err := api.Put(c.put...); err != nil {
			panic(fmt.Sprintf("oracle: the editor built an invalid entity: %v", err))
		}
	}
	if len(c.del) > 0 {
		api.Delete(c.del...)
	}
}

// seed puts the initial content on every edge at once.
func (c *cdn) seed(ch *cdnChange) {
	for _, e := range c.edges {
		apply(e.api, ch)
	}
}

// push hands a change to every edge, each with the lag lags gives it.
func (c *cdn) push(ch *cdnChange, lag func() time.Duration) {
	c.mu.Lock()
	c.changes++
	c.mu.Unlock()
	now := time.Now()
	for _, e := range c.edges {
		e.queue <- dueChange{ch, now.Add(lag())}
	}
}

// caughtUp reports whether every edge serves every change pushed so far.
func (c *cdn) caughtUp() bool {
	c.mu.Lock()
	n := c.changes
	c.mu.Unlock()
	for _, e := range c.edges {
		if int(e.applied.Load()) != n {
			return false
		}
	}
	return true
}

func (c *cdn) setFaultRate(r float64) {
	c.mu.Lock()
	c.faultRate = r
	c.mu.Unlock()
}

func (c *cdn) close() {
	for _, e := range c.edges {
		close(e.queue)
		<-e.done
	}
}

// The faults the front injects.
const (
	faultNone = iota
	fault5xx
	fault429
	faultSlow
	faultTruncated
	faultMalformed
	faultKinds
)

func (c *cdn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.requests.Add(1)
	c.mu.Lock()
	e := c.edges[c.rnd.IntN(len(c.edges))]
	kind := faultNone
	if c.faultRate > 0 && c.rnd.Float64() < c.faultRate {
		kind = 1 + c.rnd.IntN(faultKinds-1)
	}
	status := []int{500, 502, 503}[c.rnd.IntN(3)]
	reset := c.rnd.IntN(2)
	slow := time.Duration(200+c.rnd.IntN(600)) * time.Millisecond
	c.mu.Unlock()
	if kind != faultNone {
		c.faults.Add(1)
	}
	h := w.Header()
	switch kind {
	case fault5xx:
		h.Set("Content-Type", "application/vnd.contentful.delivery.v1+json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"sys":{"type":"Error","id":"ServerError"},"message":"Internal server error","requestId":"oracle"}`)
		return
	case fault429:
		h.Set("Content-Type", "application/vnd.contentful.delivery.v1+json")
		h.Set("X-Contentful-RateLimit-Reset", strconv.Itoa(reset))
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprintf(w, `{"sys":{"type":"Error","id":"RateLimitExceeded"},"message":"Ratelimit Exceeded","requestId":"oracle"}`)
		return
	case faultMalformed:
		h.Set("Content-Type", "application/vnd.contentful.delivery.v1+json")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, `{"sys":{"type":"Array"},"total":1,"skip":0,"limit":100,"items":[{"sys":{"type":"Entry","id":"`)
		return
	case faultSlow:
		select {
		case <-time.After(slow):
		case <-r.Context().Done():
			return
		}
	case faultTruncated:
		// The whole answer is announced, half of it sent, then the
		// connection drops: a client sees an unexpected EOF.
		rec := httptest.NewRecorder()
		e.api.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		for k, v := range rec.Header() {
			h[k] = v
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body[:len(body)/2])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	e.api.ServeHTTP(w, r)
}
