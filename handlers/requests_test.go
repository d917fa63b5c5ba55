package handlers

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
)

// countedRequests records every answer counted, by route template.
type countedRequests struct {
	mu     sync.Mutex
	routes []string // every template Route was asked for
	got    []string // "route code", in order
}

func (c *countedRequests) Route(template string) func(int, time.Duration) {
	c.mu.Lock()
	c.routes = append(c.routes, template)
	c.mu.Unlock()
	return func(code int, took time.Duration) {
		if took < 0 {
			panic("negative duration")
		}
		c.mu.Lock()
		c.got = append(c.got, template+" "+http.StatusText(code))
		c.mu.Unlock()
	}
}

func (c *countedRequests) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.got
	c.got = nil
	return got
}

// TestRequestsCounted: every answer is counted once under its route
// template, those served before gin (200, 304) as those gin gives (errors,
// other routes), and a path no route has under one fixed label, whatever
// the path: no slug or made-up path becomes a label.
func TestRequestsCounted(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "t", 7)
	reqs := &countedRequests{}
	h := NewRouter(Deps{Store: store, Status: NewStatus(Info{}, store), Requests: reqs})
	etag := store.Load().CV.Root.Variant(cache.Gzip).ETag[0]
	for _, c := range []struct {
		method, path string
		header       []string
		want         string
	}{
		{"GET", "/cv", nil, "/cv OK"},
		{"HEAD", "/cv", nil, "/cv OK"},
		{"GET", "/cv", []string{"Accept-Encoding", "gzip", "If-None-Match", etag}, "/cv Not Modified"},
		{"GET", "/blog?page=2", nil, "/blog OK"},
		{"GET", "/blog?page=x", nil, "/blog Bad Request"},
		{"GET", "/blog/post-3", nil, "/blog/*slug OK"},
		{"GET", "/blog/no-such-post", nil, "/blog/*slug Not Found"},
		{"OPTIONS", "/blog/post-3", []string{"Origin", "https://x.example", "Access-Control-Request-Method", "GET"}, "/blog/*slug Forbidden"},
		{"GET", "/healthz", nil, "/healthz OK"},
		{"GET", "/status", nil, "/status OK"},
		{"GET", "/no/such/path", nil, " Not Found"},
		{"GET", "/CV", nil, " Not Found"},
		{"DELETE", "/cv", nil, " Method Not Allowed"},
	} {
		w := do(h, c.method, c.path, c.header...)
		got := reqs.take()
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%s %s answered %d, counted %q, want [%q]", c.method, c.path, w.Code, got, c.want)
		}
	}
	for _, r := range reqs.routes {
		if r != "" && r[0] != '/' {
			t.Errorf("route label %q is not a template", r)
		}
	}
}

// TestCountedContentAllocatesNothing: with its answers counted, the
// content path still allocates nothing (BenchmarkContent measures it).
func TestCountedContentAllocatesNothing(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "t", 7)
	h := NewRouter(Deps{Store: store, Status: NewStatus(Info{}, store), Requests: noCount{}})
	req := request("/blog/post-3", "Accept-Encoding", "gzip")
	w := &benchWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if n := testing.AllocsPerRun(100, func() { w.reset(); h.ServeHTTP(w, req) }); n != 0 {
		t.Errorf("%v allocations per counted content answer", n)
	}
}

type noCount struct{}

func (noCount) Route(string) func(int, time.Duration) { return func(int, time.Duration) {} }
