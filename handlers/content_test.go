package handlers

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
)

// snapshotFor builds a store holding a CV and a blog of n posts whose titles
// carry tag, so tests can tell snapshots apart.
func snapshotFor(t testing.TB, store *cache.Store, tag string, n int) {
	t.Helper()
	cv, err := contentful.NewCollection([]json.RawMessage{rawEntry("me", "profile",
		fmt.Sprintf(`{"name":%q,"summary":%q}`, "Ada "+tag, strings.Repeat("builds things; ", 40)))})
	if err != nil {
		t.Fatal(err)
	}
	part, err := cache.BuildCV(context.Background(), []string{"profile", "experience"}, cv, nil, contentful.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	store.Put(part)
	var posts []json.RawMessage
	for i := range n {
		posts = append(posts, rawEntry(fmt.Sprintf("p%d", i), "blogPost", fmt.Sprintf(`{"slug":"post-%d","title":%q,"body":%q}`,
			i, "Post "+tag, strings.Repeat("words and more words ", 30))))
	}
	blog, err := contentful.NewCollection(posts)
	if err != nil {
		t.Fatal(err)
	}
	bp, _, err := cache.BuildBlog(context.Background(), blog, nil, cache.BlogOptions{SlugField: "slug", PageSize: 5,
		Render: contentful.RenderOptions{SummaryType: "blogPost", SummaryFields: []string{"title", "slug"}}})
	if err != nil {
		t.Fatal(err)
	}
	store.Put(bp)
}

// rawEntry is an entry as the Delivery API sends it.
func rawEntry(id, typ, fields string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Entry","id":%q,"revision":1,"createdAt":"2025-01-01T00:00:00Z",
		"updatedAt":"2025-01-01T00:00:00Z","contentType":{"sys":{"type":"Link","linkType":"ContentType","id":%q}}},"fields":%s}`, id, typ, fields))
}

func newTestRouter(store *cache.Store, origins ...string) http.Handler {
	return NewRouter(Deps{Store: store, CORS: origins, Status: NewStatus(Info{Version: "test"}, store)})
}

func do(h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var body errorBody
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("not a JSON error (%v): %s", err, w.Body.String())
	}
	return body.Error.Code
}

func TestNotReadyBeforeFirstLoad(t *testing.T) {
	h := newTestRouter(&cache.Store{})
	for _, path := range []string{"/cv", "/blog", "/blog/anything", "/readyz"} {
		w := do(h, "GET", path)
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
			t.Fatalf("%s: %d Retry-After=%q, want 503 with Retry-After", path, w.Code, w.Header().Get("Retry-After"))
		}
		if code := errorCode(t, w); code != "not_ready" {
			t.Fatalf("%s: code %s", path, code)
		}
	}
	if w := do(h, "GET", "/healthz"); w.Code != http.StatusOK {
		t.Fatalf("/healthz must answer while loading: %d", w.Code)
	}
}

func TestContentHeadersAndConditionalRequests(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	h := newTestRouter(store)

	w := do(h, "GET", "/cv")
	if w.Code != 200 {
		t.Fatalf("GET /cv: %d", w.Code)
	}
	want := map[string]string{
		"Content-Type":  "application/json; charset=utf-8",
		"Cache-Control": CacheControl,
		"Vary":          "Accept-Encoding",
		"Etag":          store.Load().CV.Root.ETag(),
		"Last-Modified": store.Load().CV.Root.LastModified()[0],
	}
	for k, v := range want {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	var cv map[string][]map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &cv); err != nil {
		t.Fatal(err)
	}
	if len(cv["profile"]) != 1 || cv["experience"] == nil {
		t.Fatalf("CV keys: %s", w.Body.String())
	}
	if !strings.HasPrefix(w.Body.String(), `{"profile":[`) {
		t.Fatalf("CV keys must keep FOLIO_CV_TYPES order: %.40s", w.Body.String())
	}

	etag := w.Header().Get("Etag")
	if w := do(h, "GET", "/cv", "If-None-Match", etag); w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("Etag") != etag {
		t.Fatalf("If-None-Match: %d, %d bytes, ETag %q", w.Code, w.Body.Len(), w.Header().Get("Etag"))
	}
	if w := do(h, "GET", "/cv", "If-None-Match", `"stale"`); w.Code != 200 {
		t.Fatalf("stale If-None-Match: %d", w.Code)
	}
	if w := do(h, "GET", "/cv", "If-Modified-Since", want["Last-Modified"]); w.Code != http.StatusNotModified {
		t.Fatalf("If-Modified-Since: %d", w.Code)
	}
	if w := do(h, "GET", "/cv", "If-None-Match", `"stale"`, "If-Modified-Since", want["Last-Modified"]); w.Code != 200 {
		t.Fatalf("If-None-Match must take precedence over If-Modified-Since: %d", w.Code)
	}

	head := do(h, "HEAD", "/cv")
	if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Content-Length") != fmt.Sprint(w.Body.Len()) {
		t.Fatalf("HEAD: %d, body %d, Content-Length %q (GET had %d)", head.Code, head.Body.Len(), head.Header().Get("Content-Length"), w.Body.Len())
	}
}

func TestEncodings(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	h := newTestRouter(store)
	identity := do(h, "GET", "/blog").Body.Bytes()

	cases := []struct {
		accept, encoding string
		decode           func(io.Reader) io.Reader
	}{
		{"gzip, deflate", "gzip", func(r io.Reader) io.Reader { z, _ := gzip.NewReader(r); return z }},
		{"gzip, deflate, br, zstd", "br", func(r io.Reader) io.Reader { return brotli.NewReader(r) }},
		{"br;q=0, gzip", "gzip", func(r io.Reader) io.Reader { z, _ := gzip.NewReader(r); return z }},
		{"*", "br", func(r io.Reader) io.Reader { return brotli.NewReader(r) }},
		{"br;q=0,gzip;q=0.0", "", func(r io.Reader) io.Reader { return r }},
		{"", "", func(r io.Reader) io.Reader { return r }},
	}
	tags := map[string]string{}
	for _, c := range cases {
		w := do(h, "GET", "/blog", "Accept-Encoding", c.accept)
		if got := w.Header().Get("Content-Encoding"); got != c.encoding {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", c.accept, got, c.encoding)
			continue
		}
		if w.Header().Get("Content-Length") != fmt.Sprint(w.Body.Len()) {
			t.Errorf("Accept-Encoding %q: Content-Length %s for %d bytes", c.accept, w.Header().Get("Content-Length"), w.Body.Len())
		}
		got, err := io.ReadAll(c.decode(bytes.NewReader(w.Body.Bytes())))
		if err != nil || !bytes.Equal(got, identity) {
			t.Errorf("Accept-Encoding %q: decoded body differs (%v)", c.accept, err)
		}
		tags[c.encoding] = w.Header().Get("Etag")
		// A client that cached one representation revalidates with its tag.
		if w := do(h, "GET", "/blog", "Accept-Encoding", c.accept, "If-None-Match", tags[c.encoding]); w.Code != http.StatusNotModified {
			t.Errorf("Accept-Encoding %q: revalidation answered %d", c.accept, w.Code)
		}
	}
	if len(tags) != 3 {
		t.Errorf("want one strong ETag per representation, got %v", tags)
	}
}

func TestPosts(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	h := newTestRouter(store)
	w := do(h, "GET", "/blog/post-1")
	var post contentful.Entry
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &post) != nil || post.ID != "p1" {
		t.Fatalf("GET /blog/post-1: %d %s", w.Code, w.Body.String())
	}
	w = do(h, "GET", "/blog/no-such-post")
	if w.Code != 404 || errorCode(t, w) != "post_not_found" {
		t.Fatalf("unknown slug: %d %s", w.Code, w.Body.String())
	}
	if w := do(h, "POST", "/cv"); w.Code != http.StatusMethodNotAllowed || errorCode(t, w) != "method_not_allowed" {
		t.Fatalf("POST /cv: %d %s", w.Code, w.Body.String())
	}
	if w := do(h, "GET", "/nope"); w.Code != http.StatusNotFound || errorCode(t, w) != "not_found" {
		t.Fatalf("GET /nope: %d %s", w.Code, w.Body.String())
	}
}

func TestCORS(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 1)
	h := newTestRouter(store, "https://site.example")

	w := do(h, "GET", "/cv", "Origin", "https://site.example")
	if w.Header().Get("Access-Control-Allow-Origin") != "https://site.example" || !strings.Contains(w.Header().Get("Vary"), "Origin") {
		t.Fatalf("allowed origin: ACAO %q Vary %q", w.Header().Get("Access-Control-Allow-Origin"), w.Header().Get("Vary"))
	}
	if !strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Etag") {
		t.Fatal("ETag must be exposed to the frontend's scripts")
	}
	w = do(h, "GET", "/cv", "Origin", "https://evil.example")
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "" || !strings.Contains(w.Header().Get("Vary"), "Origin") {
		t.Fatalf("denied origin: %d ACAO %q", w.Code, w.Header().Get("Access-Control-Allow-Origin"))
	}
	w = do(h, "OPTIONS", "/blog/post-0", "Origin", "https://site.example", "Access-Control-Request-Method", "GET")
	if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "https://site.example" ||
		!strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "GET") {
		t.Fatalf("preflight allowed: %d %v", w.Code, w.Header())
	}
	w = do(h, "OPTIONS", "/cv", "Origin", "https://evil.example", "Access-Control-Request-Method", "GET")
	if w.Code != http.StatusForbidden || w.Header().Get("Access-Control-Allow-Origin") != "" || errorCode(t, w) != "cors_origin_denied" {
		t.Fatalf("preflight denied: %d %v", w.Code, w.Header())
	}

	any := newTestRouter(store, "*")
	if w := do(any, "GET", "/cv", "Origin", "https://whoever.example"); w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Fatal(`"*" must allow any origin`)
	}
	none := newTestRouter(store)
	if w := do(none, "GET", "/cv", "Origin", "https://site.example"); w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("no FOLIO_CORS_ORIGINS must allow no origin")
	}
}

// TestReadersSeeWholeSnapshots swaps 100 snapshots while readers fetch
// every route: each answer's body must hash to its own ETag, and a /blog and
// a /cv answer must never come from a snapshot that was never stored.
func TestReadersSeeWholeSnapshots(t *testing.T) {
	// Build ten snapshots first and swap them in turn: the test is about
	// swapping, and compressing under the race detector would starve readers.
	var parts []*cache.Part
	for i := 1; i <= 10; i++ {
		s := &cache.Store{}
		snapshotFor(t, s, fmt.Sprintf("v%d", i), 8)
		parts = append(parts, s.Load().CV, s.Load().Blog)
	}
	store := &cache.Store{}
	snapshotFor(t, store, "v0", 8)
	h := newTestRouter(store)
	stop := make(chan struct{})
	var reads atomic.Int64
	var wg sync.WaitGroup
	for r := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			paths := []string{"/cv", "/blog", "/blog/post-7"}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				w := do(h, "GET", paths[(i+r)%len(paths)])
				if w.Code != 200 {
					t.Errorf("status %d", w.Code)
					return
				}
				sum := sha256.Sum256(w.Body.Bytes())
				if want := `"` + hex.EncodeToString(sum[:16]) + `"`; w.Header().Get("Etag") != want {
					t.Errorf("body does not match its ETag: %s vs %s", w.Header().Get("Etag"), want)
					return
				}
				if !json.Valid(w.Body.Bytes()) {
					t.Error("invalid JSON")
					return
				}
				reads.Add(1)
			}
		}()
	}
	for i := range 100 {
		store.Put(parts[(2*i)%len(parts)])
		store.Put(parts[(2*i+1)%len(parts)])
		// Let the readers make progress against every snapshot.
		for target := reads.Load() + 4; reads.Load() < target && !t.Failed(); {
			runtime.Gosched()
		}
	}
	close(stop)
	wg.Wait()
	if reads.Load() == 0 {
		t.Fatal("no reads happened during the swaps")
	}
	if !strings.Contains(do(h, "GET", "/cv").Body.String(), "Ada v10") {
		t.Fatal("the last snapshot is not served")
	}
}

func TestNegotiate(t *testing.T) {
	for accept, want := range map[string]cache.Encoding{
		"":                       cache.Identity,
		"identity":               cache.Identity,
		"gzip":                   cache.Gzip,
		"GZIP":                   cache.Gzip,
		"x-gzip":                 cache.Gzip,
		"br":                     cache.Brotli,
		"gzip;q=1.0, br;q=0.5":   cache.Brotli,
		"br;q=0":                 cache.Identity,
		"br; q=0.000, gzip":      cache.Gzip,
		"*;q=0":                  cache.Identity,
		"*, br;q=0":              cache.Gzip,
		"deflate, zstd":          cache.Identity,
		"gzip;q=0.01":            cache.Gzip,
		" br ; q=0.9 ,gzip":      cache.Brotli,
		"compress, gzip;level=1": cache.Gzip,
	} {
		if got := negotiate([]string{accept}); got != want {
			t.Errorf("negotiate(%q) = %d, want %d", accept, got, want)
		}
	}
}

// TestBlogPages: /blog is page 1 of the summaries; ?page=N the others; a
// page past the end is 404 and a malformed one 400, both JSON errors.
func TestBlogPages(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "pages", 12) // 5 a page: pages of 5, 5, 2
	h := newTestRouter(store)
	for path, want := range map[string]struct {
		status, page, items int
	}{
		"/blog":                              {200, 1, 5},
		"/blog?page=1":                       {200, 1, 5},
		"/blog?page=3":                       {200, 3, 2},
		"/blog?v=123&page=2":                 {200, 2, 5},
		"/blog?utm_source=x":                 {200, 1, 5},
		"/blog?page=4":                       {404, 0, 0},
		"/blog?page=0":                       {400, 0, 0},
		"/blog?page=-1":                      {400, 0, 0},
		"/blog?page=two":                     {400, 0, 0},
		"/blog?page=":                        {400, 0, 0},
		"/blog?page=99999999":                {404, 0, 0},
		"/blog?page=99999999999999999999999": {404, 0, 0},
		"/blog?page=2&page=1":                {200, 2, 5},
		"/blog?page=%32":                     {200, 2, 5}, // was page_invalid
		"/blog?p%61ge=3":                     {200, 3, 2},
		"/blog?x=%41&page=2":                 {200, 2, 5},
		"/blog?x=%41":                        {200, 1, 5},
		"/blog?page=%3":                      {400, 0, 0}, // a broken escape
		"/blog?page=%2532":                   {400, 0, 0}, // "%32" once decoded
		"/blog?page=+1":                      {400, 0, 0},
	} {
		w := do(h, "GET", path)
		if w.Code != want.status {
			t.Errorf("%s: %d %s", path, w.Code, w.Body.String())
			continue
		}
		if want.status != 200 {
			errorCode(t, w)
			continue
		}
		var doc struct {
			Total, Page, PageSize, Pages int
			Items                        []struct {
				ID     string
				Fields map[string]any
			}
		}
		if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.Total != 12 || doc.Page != want.page || doc.PageSize != 5 || doc.Pages != 3 || len(doc.Items) != want.items {
			t.Errorf("%s: %+v", path, doc)
		}
		if _, hasBody := doc.Items[0].Fields["body"]; hasBody || doc.Items[0].Fields["slug"] == nil {
			t.Errorf("%s: a list item is not a summary: %v", path, doc.Items[0].Fields)
		}
	}
}
