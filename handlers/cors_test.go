package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/folio-cms/folio/cache"
)

// Every answer of a content route carries the CORS headers for an allowed
// origin, whatever its status: a browser hides from the page's script an
// answer without them, so a frontend could not read a 404 or a 503 (it
// could after its preflight succeeded). Before the fix only the content's
// 200 and 304 carried them.
func TestCORSOnEveryContentAnswer(t *testing.T) {
	loaded := &cache.Store{}
	snapshotFor(t, loaded, "one", 12)
	etag := loaded.Load().CV.Root.ETag()
	cases := []struct {
		name         string
		store        *cache.Store
		method, path string
		header       []string
		code         int
	}{
		{"200", loaded, "GET", "/cv", nil, 200},
		{"HEAD", loaded, "HEAD", "/blog", nil, 200},
		{"304", loaded, "GET", "/cv", []string{"If-None-Match", etag}, 304},
		{"412", loaded, "GET", "/cv", []string{"If-Match", `"other"`}, 412},
		{"404 post", loaded, "GET", "/blog/no-such-post", nil, 404},
		{"404 nested post", loaded, "GET", "/blog/2024/no-such-post", nil, 404},
		{"404 page", loaded, "GET", "/blog?page=99", nil, 404},
		{"400 page", loaded, "GET", "/blog?page=x", nil, 400},
		{"405", loaded, "POST", "/cv", nil, 405},
		{"405 DELETE post", loaded, "DELETE", "/blog/post-1", nil, 405},
		{"preflight", loaded, "OPTIONS", "/blog/post-1", []string{"Access-Control-Request-Method", "GET"}, 204},
		{"503 before the first load", &cache.Store{}, "GET", "/cv", nil, 503},
		{"503 HEAD", &cache.Store{}, "HEAD", "/blog/post-1", nil, 503},
		// A path a slash or case away from a content route: its 404
		// names the route, which the page's script can read only with
		// the headers (they were missing).
		{"404 /cv/", loaded, "GET", "/cv/", nil, 404},
		{"404 /CV", loaded, "GET", "/CV", nil, 404},
		{"404 //blog", loaded, "GET", "//blog", nil, 404},
	}
	for _, c := range cases {
		for _, origins := range [][]string{{"https://site.example"}, {"*"}} {
			h := newTestRouter(c.store, origins...)
			want := origins[0]
			w := do(h, c.method, c.path, append([]string{"Origin", "https://site.example"}, c.header...)...)
			if w.Code != c.code {
				t.Errorf("%s (%s): status %d, want %d", c.name, want, w.Code, c.code)
			}
			if got := w.Header().Get("Access-Control-Allow-Origin"); got != want {
				t.Errorf("%s (%s): Access-Control-Allow-Origin %q", c.name, want, got)
			}
			if want != "*" && !strings.Contains(w.Header().Get("Vary"), "Origin") {
				t.Errorf("%s: Vary %q lacks Origin", c.name, w.Header().Get("Vary"))
			}
			if c.method != "OPTIONS" && !strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Retry-After") {
				t.Errorf("%s: Access-Control-Expose-Headers %q", c.name, w.Header().Get("Access-Control-Expose-Headers"))
			}
			// Another origin gets the same answer, without the header.
			w = do(h, c.method, c.path, append([]string{"Origin", "https://evil.example"}, c.header...)...)
			if got := w.Header().Get("Access-Control-Allow-Origin"); want != "*" && got != "" {
				t.Errorf("%s: a denied origin got Access-Control-Allow-Origin %q", c.name, got)
			}
		}
	}
}

// A preflight is answered for the conditional headers folio honours; an
// OPTIONS without Origin is no preflight and gets Allow.
func TestPreflight(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 1)
	h := newTestRouter(store, "https://site.example")
	w := do(h, "OPTIONS", "/cv", "Origin", "https://site.example", "Access-Control-Request-Method", "GET",
		"Access-Control-Request-Headers", "if-match, if-none-match")
	allowed := strings.ToLower(w.Header().Get("Access-Control-Allow-Headers"))
	if w.Code != http.StatusNoContent || !strings.Contains(allowed, "if-match") || !strings.Contains(allowed, "if-unmodified-since") {
		t.Fatalf("preflight: %d %v", w.Code, w.Header())
	}
	if w := do(h, "OPTIONS", "/blog/a/b"); w.Code != http.StatusNoContent || w.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
		t.Fatalf("OPTIONS without Origin: %d %v", w.Code, w.Header())
	}
}

// panickingStore fails every read, as a bug would.
type panickingStore struct{}

func (panickingStore) Load() *cache.Snapshot { panic("a bug") }

// A 500 from a panic on a content route carries the CORS headers too.
func TestCORSOnAPanic(t *testing.T) {
	h := NewRouter(Deps{Store: panickingStore{}, CORS: []string{"https://site.example"}, Logger: testLogger,
		Status: NewStatus(Info{}, &cache.Store{})})
	w := do(h, "GET", "/cv", "Origin", "https://site.example")
	if w.Code != 500 || errorCode(t, w) != "internal_error" || w.Header().Get("Access-Control-Allow-Origin") != "https://site.example" {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body.String())
	}
}
