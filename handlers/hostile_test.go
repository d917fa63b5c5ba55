package handlers

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/internal/httpserver"
	"github.com/folio-cms/folio/refresh"
)

// site is folio's whole HTTP surface on a real server with folio's limits:
// content, operations, dashboard, webhook and admin routes, CORS for one
// origin.
type site struct {
	t     *testing.T
	URL   string
	addr  string
	store *cache.Store
	queue *refresh.MemoryQueue
}

const siteOrigin = "https://site.example"

func newSite(t *testing.T, store *cache.Store) *site {
	t.Helper()
	remember(signingSecret)
	s := &site{t: t, store: store, queue: refresh.NewMemoryQueue(100)}
	engine := refresh.NewEngine(refresh.NewLoader(nil, store, hookCols, nil), refresh.EngineOptions{}, nil)
	h := NewRouter(Deps{
		Store: store, CORS: []string{siteOrigin}, Logger: testLogger, Status: NewStatus(Info{}, store),
		Metrics:   http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "folio_up 1\n") }),
		Dashboard: []byte("<!doctype html><title>folio</title>"),
		Webhook: NewWebhook(refresh.NewIntake(store, s.queue, refresh.NewMemoryDedup(time.Minute, 100), nil,
			refresh.IntakeOptions{Space: "space1", Environment: "master", Collections: hookCols})),
		Auth: signedGuard(), Limits: NewClientLimits(10_000, 10_000), Admin: NewAdmin(engine, engine.Log(), s.queue),
	})
	ts := httptest.NewUnstartedServer(h)
	ts.Config = httpserver.New(h)
	ts.Start()
	t.Cleanup(ts.Close)
	s.URL, s.addr = ts.URL, ts.Listener.Addr().String()
	return s
}

// answer is one response, read whole.
type answer struct {
	code   int
	header http.Header
	body   []byte
}

// do sends a request with header pairs; it never follows a redirect.
func (s *site) do(method, path string, body []byte, header ...string) answer {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if body == nil {
		req.Body = nil
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, b}
}

// raw sends request bytes as they are, for what no client library sends.
func (s *site) raw(request string) answer {
	s.t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	go io.WriteString(c, request) // a refused request may be answered before it is all sent
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		s.t.Fatalf("%.60q: %v", request, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return answer{res.StatusCode, res.Header, b}
}

// jsonError returns an error answer's code, failing unless it is folio's
// JSON error shape.
func (a answer) jsonError(t *testing.T, what string) string {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(a.body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" ||
		!strings.HasPrefix(a.header.Get("Content-Type"), "application/json") {
		t.Errorf("%s: %d is not a JSON error: %q %q", what, a.code, a.header.Get("Content-Type"), a.body)
	}
	return e.Error.Code
}

// routes is every route with the methods it answers.
var routes = []struct {
	path    string
	methods []string
	content bool
}{
	{"/cv", []string{"GET", "HEAD", "OPTIONS"}, true},
	{"/blog", []string{"GET", "HEAD", "OPTIONS"}, true},
	{"/blog?page=2", []string{"GET", "HEAD", "OPTIONS"}, true},
	{"/blog/post-1", []string{"GET", "HEAD", "OPTIONS"}, true},
	{"/blog/2024/hello", []string{"GET", "HEAD", "OPTIONS"}, true},
	{"/healthz", []string{"GET", "HEAD"}, false},
	{"/readyz", []string{"GET", "HEAD"}, false},
	{"/status", []string{"GET", "HEAD"}, false},
	{"/metrics", []string{"GET", "HEAD"}, false},
	{"/", []string{"GET", "HEAD"}, false},
	{"/webhooks/contentful", []string{"POST"}, false},
	{"/admin/dead-letters", []string{"GET", "HEAD"}, false},
	{"/admin/dead-letters/evt_1/replay", []string{"POST"}, false},
	{"/admin/refresh", []string{"POST"}, false},
}

var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "PROPFIND", "FOO"}

// Every method on every route: the route's own answer, or 405 with Allow
// naming exactly the route's methods and a JSON body; never a redirect.
// Content routes carry CORS headers on every answer.
func TestEveryMethodOnEveryRoute(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 12)
	s := newSite(t, store)
	for _, r := range routes {
		for _, m := range methods {
			what := m + " " + r.path
			a := s.do(m, r.path, nil, "Origin", siteOrigin)
			switch {
			case a.code >= 300 && a.code < 400:
				t.Errorf("%s: %d: folio never redirects", what, a.code)
			case !slices.Contains(r.methods, m):
				if a.code != http.StatusMethodNotAllowed || m != "HEAD" && a.jsonError(t, what) != "method_not_allowed" {
					t.Errorf("%s: %d %q, want 405", what, a.code, a.body)
				}
				allow := strings.Split(a.header.Get("Allow"), ", ")
				slices.Sort(allow)
				want := slices.Sorted(slices.Values(r.methods))
				if !slices.Equal(allow, want) {
					t.Errorf("%s: Allow %q, want %q", what, a.header.Get("Allow"), want)
				}
			case a.code == http.StatusMethodNotAllowed:
				t.Errorf("%s: 405 for a method the route answers", what)
			case m == "HEAD" && len(a.body) != 0:
				t.Errorf("%s: HEAD has a body", what)
			case a.code >= 400 && m != "HEAD":
				a.jsonError(t, what)
			}
			if r.content && a.header.Get("Access-Control-Allow-Origin") != siteOrigin {
				t.Errorf("%s: %d without Access-Control-Allow-Origin", what, a.code)
			}
			if !r.content && a.header.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("%s: CORS on a route that is not content", what)
			}
		}
	}
}

// A path off by a slash, a dot segment or case is a JSON 404 naming the
// route, for every method: no redirect a webhook sender would not follow
// (POST /webhooks/contentful/ was a 307).
func TestNearMissPathsNameTheRoute(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	s := newSite(t, store)
	for path, want := range map[string]string{
		"/cv/":                              "/cv",
		"//cv":                              "/cv",
		"/CV":                               "/cv",
		"/./cv":                             "/cv",
		"/webhooks/contentful/":             "/webhooks/contentful",
		"/webhooks//contentful":             "/webhooks/contentful",
		"/Webhooks/Contentful":              "/webhooks/contentful",
		"/admin/refresh/":                   "/admin/refresh",
		"/admin/dead-letters/":              "/admin/dead-letters",
		"/admin/dead-letters/evt_1/replay/": "/admin/dead-letters/evt_1/replay",
		"/status/":                          "/status",
		"/healthz/":                         "/healthz",
		"/nope":                             "",
		"/webhooks":                         "",
	} {
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			a := s.do(m, path, []byte(`{}`), "Content-Type", "application/json")
			what := m + " " + path
			if a.code != http.StatusNotFound || a.jsonError(t, what) != "not_found" {
				t.Errorf("%s: %d %s, want 404", what, a.code, a.body)
				continue
			}
			var e errorBody
			json.Unmarshal(a.body, &e)
			if hint := fmt.Sprintf("did you mean %q", want); want != "" && !strings.Contains(e.Error.Message, hint) {
				t.Errorf("%s: %s, want %s", what, a.body, hint)
			}
			if want == "" && strings.Contains(e.Error.Message, "did you mean") {
				t.Errorf("%s: %s names a route it is not near", what, a.body)
			}
		}
	}
	if s.queue.Len() != 0 {
		t.Fatal("a near miss queued an event")
	}
	// /blog/ is under the posts' route: no post has the empty slug.
	if a := s.do("GET", "/blog/", nil); a.code != 404 || !strings.Contains(string(a.body), `did you mean \"/blog\"`) {
		t.Errorf("GET /blog/: %d %s", a.code, a.body)
	}
}

// Odd paths: each gets a JSON answer from folio, or (for what net/http
// refuses before any handler: a malformed request line or percent-escape,
// headers over the limit) net/http's own 400 or 431.
func TestHostilePaths(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	s := newSite(t, store)
	for target, want := range map[string]struct {
		code  int
		error string // "" for content, "-" for net/http's plain answer
	}{
		"/c%76":                                {200, ""},
		"/blog/post%2D1":                       {200, ""},
		"http://other.example/cv":              {200, ""},
		"/cv?page=x&%00":                       {200, ""},
		"/blog/../cv":                          {404, "post_not_found"},
		"/blog/%2e%2e/cv":                      {404, "post_not_found"},
		"/cv/..":                               {404, "not_found"},
		"/blog/post-1%00":                      {404, "post_not_found"},
		"/blog/%00":                            {404, "post_not_found"},
		"/%00":                                 {404, "not_found"},
		"/blog/%C0%AE%C0%AE":                   {404, "post_not_found"},
		"/blog/" + strings.Repeat("a", 60<<10): {404, "post_not_found"},
		"/" + strings.Repeat("a/", 30<<10):     {404, "not_found"},
		"/blog/%zz":                            {400, "-"},
		"/blog/" + strings.Repeat("a", 70<<10): {431, "-"},
	} {
		a := s.raw("GET " + target + " HTTP/1.1\r\nHost: folio\r\nConnection: close\r\n\r\n")
		what := fmt.Sprintf("GET %.40s", target)
		switch {
		case a.code != want.code:
			t.Errorf("%s: %d %.200s, want %d", what, a.code, a.body, want.code)
		case want.error == "" && !json.Valid(a.body):
			t.Errorf("%s: not JSON", what)
		case want.error != "" && want.error != "-" && a.jsonError(t, what) != want.error:
			t.Errorf("%s: %s, want %s", what, a.body, want.error)
		}
	}
	// The same on the routes that take a body: a JSON 404, nothing queued.
	for _, target := range []string{"/webhooks/contentful%00", "/webhooks/contentful/..", "/admin/refresh%20",
		"/admin/dead-letters/%00/replay/", "/webhooks/" + strings.Repeat("x", 60<<10)} {
		a := s.raw("POST " + target + " HTTP/1.1\r\nHost: folio\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
		if what := fmt.Sprintf("POST %.40s", target); a.code != 404 || a.jsonError(t, what) != "not_found" {
			t.Errorf("%s: %d %.200s", what, a.code, a.body)
		}
	}
	if s.queue.Len() != 0 {
		t.Fatal("a hostile path queued an event")
	}
	// A NUL or a control character in the request line is refused by net/http.
	for _, target := range []string{"/blog/a\x00b", "/cv\x7f", "/blog/a b"} {
		if a := s.raw("GET " + target + " HTTP/1.1\r\nHost: folio\r\n\r\n"); a.code != 400 {
			t.Errorf("GET %q: %d, want 400", target, a.code)
		}
	}
}

// Odd and hostile Accept-Encoding values get a body the client can read:
// the coding named in Content-Encoding, decoding to the JSON.
func TestHostileEncodings(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	s := newSite(t, store)
	identity := s.do("GET", "/blog", nil).body
	for _, accept := range []string{
		"identity;q=0", "*;q=0", "identity;q=0, *;q=0", "br;q=0, gzip;q=0", "gzip;q=0.5, br;q=0.1",
		"GzIp", "x-gzip", "br;q=1.5", "gzip;q=-1", "gzip;q=", ";;;,,,", "*", "*, gzip;q=0, br;q=0",
		"compress, deflate, zstd", strings.Repeat("x-unknown;q=0.5, ", 3000), strings.Repeat(",", 40_000),
		"gzip;q=0\tbr", "br\u00a0",
	} {
		a := s.do("GET", "/blog", nil, "Accept-Encoding", accept)
		what := fmt.Sprintf("Accept-Encoding %.40q", accept)
		if a.code != 200 {
			t.Errorf("%s: %d", what, a.code)
			continue
		}
		got, err := decode(a.header.Get("Content-Encoding"), a.body)
		if err != nil || !bytes.Equal(got, identity) {
			t.Errorf("%s: Content-Encoding %q does not decode to the JSON (%v)", what, a.header.Get("Content-Encoding"), err)
		}
	}
}

// Headers up to the limit are fine, with or without a body on a GET; past
// it net/http answers 431.
func TestHugeHeadersAndBodiesOnGET(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	s := newSite(t, store)
	var many []string
	for i := range 500 {
		many = append(many, fmt.Sprintf("X-Header-%d", i), strings.Repeat("v", 50))
	}
	if a := s.do("GET", "/cv", nil, many...); a.code != 200 {
		t.Errorf("500 headers: %d", a.code)
	}
	if a := s.do("GET", "/cv", nil, "X-Big", strings.Repeat("v", 50<<10)); a.code != 200 {
		t.Errorf("a 50 KiB header: %d", a.code)
	}
	if a := s.do("GET", "/cv", nil, "Cookie", strings.Repeat("c=v; ", 16<<10)); a.code != 431 {
		t.Errorf("an 80 KiB header: %d, want 431", a.code)
	}
	for _, path := range []string{"/cv", "/blog/post-1", "/status", "/healthz"} {
		if a := s.do("GET", path, bytes.Repeat([]byte("x"), 1<<20)); a.code != 200 {
			t.Errorf("GET %s with a 1 MiB body: %d", path, a.code)
		}
	}
	if a := s.raw("GET /cv HTTP/1.1\r\nHost: folio\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"); a.code != 200 {
		t.Errorf("GET with a chunked body: %d", a.code)
	}
}

// Every route that takes a body refuses one over the limit with a JSON
// 413 before authenticating it, and queues nothing, whether the body says
// its length or is chunked.
func TestOversizeBodies(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	s := newSite(t, store)
	big := bytes.Repeat([]byte("x"), MaxWebhookBody+1)
	for _, path := range []string{"/webhooks/contentful", "/admin/refresh", "/admin/dead-letters/evt_1/replay"} {
		a := s.do("POST", path, big, "Content-Type", "application/json", "X-Contentful-Topic", "ContentManagement.Entry.publish")
		if a.code != http.StatusRequestEntityTooLarge || a.jsonError(t, path) != "payload_too_large" {
			t.Errorf("POST %s, %d bytes: %d %s", path, len(big), a.code, a.body)
		}
		req, _ := http.NewRequest("POST", s.URL+path, io.MultiReader(bytes.NewReader(big))) // no length: chunked
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusRequestEntityTooLarge || (answer{res.StatusCode, res.Header, b}).jsonError(t, path) != "payload_too_large" {
			t.Errorf("POST %s, chunked: %d %s", path, res.StatusCode, b)
		}
		// A declared length over the limit is refused before the body is
		// sent: no "100 Continue" inviting it (there was, and folio read
		// 2 MiB of it first).
		for _, expect := range []string{"", "Expect: 100-continue\r\n"} {
			a := s.raw("POST " + path + " HTTP/1.1\r\nHost: folio\r\nContent-Type: application/json\r\n" + expect +
				"Content-Length: 99999999999\r\n\r\n")
			if a.code != http.StatusRequestEntityTooLarge || a.jsonError(t, path) != "payload_too_large" {
				t.Errorf("POST %s declaring 99999999999 bytes (%q): %d %s", path, expect, a.code, a.body)
			}
		}
	}
	if s.queue.Len() != 0 {
		t.Fatal("an oversize body queued an event")
	}
}

// decode undoes a Content-Encoding.
func decode(coding string, body []byte) ([]byte, error) {
	switch coding {
	case "":
		return body, nil
	case "gzip":
		z, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(z)
	case "br":
		return io.ReadAll(brotli.NewReader(bytes.NewReader(body)))
	}
	return nil, fmt.Errorf("unknown coding %q", coding)
}
