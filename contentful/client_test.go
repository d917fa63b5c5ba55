package contentful

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/folio-cms/folio/contentful/localapi"
)

const token = "cda-token"

// sleeps records the waits a client asked for, without waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func newAPI(t *testing.T) (*localapi.Server, *Client, *sleeps) {
	t.Helper()
	api := localapi.New("space1", "staging", token)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	sl := &sleeps{}
	c, err := New(Options{BaseURL: srv.URL, Space: "space1", Environment: "staging", Token: token,
		Sleep: sl.sleep, Retry: RetryPolicy{Attempts: 4, BaseDelay: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return api, c, sl
}

func entry(id, typ string, rev int, fields string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Entry","id":%q,"revision":%d,
		"createdAt":"2025-01-01T00:00:%02dZ","updatedAt":"2025-02-01T00:00:00Z",
		"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":%q}}},"fields":%s}`, id, rev, rev%60, typ, fields))
}

// entries renders every item of col in full, each as its own response,
// links to depth 10 and no summaries: the Delivery API's include=10 view.
func entries(t *testing.T, col *Collection) []*Entry {
	t.Helper()
	out, _ := renderAll(t, col)
	return out
}

func refs(t *testing.T, col *Collection) map[Ref]int {
	t.Helper()
	_, r := renderAll(t, col)
	return r
}

func renderAll(t *testing.T, col *Collection) ([]*Entry, map[Ref]int) {
	t.Helper()
	r := NewRenderer(col.Entities, RenderOptions{Depth: 10})
	all := map[Ref]int{}
	var out []*Entry
	for _, id := range col.Items {
		g := r.Begin()
		e, err := g.Full(id)
		if err != nil || e == nil {
			t.Fatalf("rendering %s: %v", id, err)
		}
		out = append(out, e)
		for ref, rev := range g.Refs {
			all[ref] = rev
		}
	}
	return out, all
}

func link(kind, id string) string {
	return fmt.Sprintf(`{"sys":{"type":"Link","linkType":%q,"id":%q}}`, kind, id)
}

func put(t *testing.T, api *localapi.Server, es ...json.RawMessage) {
	t.Helper()
	if err := api.Put(es...); err != nil {
		t.Fatal(err)
	}
}

var cvTypes = []string{"profile", "experience", "education", "skill", "project"}

func TestCVIsOneRequestForAllTypes(t *testing.T) {
	api, c, _ := newAPI(t)
	for i, typ := range cvTypes {
		for j := range 3 {
			put(t, api, entry(fmt.Sprintf("%s-%d", typ, j), typ, 1+i*3+j, `{"name":"x"}`))
		}
	}
	put(t, api, entry("post", "blogPost", 1, `{"slug":"p"}`))

	col, err := c.Fetch(context.Background(), Query{ContentTypes: cvTypes, Order: "sys.createdAt"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries(t, col)) != 15 || col.Requests != 1 {
		t.Fatalf("%d entries in %d requests, want 15 in 1", len(entries(t, col)), col.Requests)
	}
	reqs := api.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	q := reqs[0].Query
	if q.Get("sys.contentType.sys.id[in]") != strings.Join(cvTypes, ",") || q.Get("include") != "10" ||
		q.Get("order") != "sys.createdAt,sys.id" || !strings.Contains(reqs[0].Path, "/environments/staging/") {
		t.Fatalf("request: %s %v", reqs[0].Path, q)
	}
	for _, e := range entries(t, col) {
		if e.ContentType == "blogPost" {
			t.Fatal("a blog post leaked into the CV")
		}
	}
}

func TestPaginationPast1000(t *testing.T) {
	api, c, _ := newAPI(t)
	var es []json.RawMessage
	for i := range 2500 {
		es = append(es, entry(fmt.Sprintf("post-%04d", i), "blogPost", 1,
			fmt.Sprintf(`{"slug":"post-%d","publishDate":"2020-01-01T00:00:00Z"}`, i)))
	}
	put(t, api, es...)
	col, err := c.Fetch(context.Background(), Query{ContentTypes: []string{"blogPost"}, Order: "-fields.publishDate"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries(t, col)) != 2500 || col.Requests != 3 {
		t.Fatalf("%d entries in %d requests, want 2500 in 3", len(entries(t, col)), col.Requests)
	}
	// Equal publish dates: the sys.id tie-break keeps pages disjoint.
	for i, e := range entries(t, col) {
		if want := fmt.Sprintf("post-%04d", i); e.ID != want {
			t.Fatalf("entry %d is %s, want %s", i, e.ID, want)
		}
	}
	for i, r := range api.Requests() {
		if r.Query.Get("limit") != "1000" || r.Query.Get("skip") != map[int]string{0: "", 1: "1000", 2: "2000"}[i] ||
			r.Query.Get("content_type") != "blogPost" {
			t.Fatalf("request %d: %v", i, r.Query)
		}
	}
}

func TestLinksResolve(t *testing.T) {
	api, c, _ := newAPI(t)
	put(t, api,
		entry("post", "blogPost", 3, `{"slug":"p","author":`+link("Entry", "ada")+`,
			"hero":`+link("Asset", "gone")+`,
			"related":[`+link("Entry", "a")+`,`+link("Entry", "missing")+`],
			"body":{"nodeType":"document","data":{},"content":[{"nodeType":"embedded-asset-block","content":[],"data":{"target":`+link("Asset", "pic")+`}}]}}`),
		entry("ada", "author", 2, `{"name":"Ada","avatar":`+link("Asset", "pic")+`}`),
		entry("a", "blogPost", 1, `{"slug":"a","next":`+link("Entry", "b")+`}`),
		entry("b", "blogPost", 1, `{"slug":"b","next":`+link("Entry", "a")+`}`),
		json.RawMessage(`{"sys":{"type":"Asset","id":"pic","revision":4,"updatedAt":"2026-05-05T05:05:05Z"},"fields":{"title":"Pic","description":"A pic",
			"file":{"url":"//images.ctfassets.net/s/pic/abc/pic.jpg","contentType":"image/jpeg","details":{"size":1234,"image":{"width":640,"height":480}}}}}`),
		json.RawMessage(`{"sys":{"type":"Asset","id":"gone","revision":1},"fields":{"title":"Gone"}}`),
	)
	api.Delete("Asset:gone")

	col, err := c.Fetch(context.Background(), Query{ContentTypes: []string{"blogPost"}, Order: "sys.id"})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*Entry{}
	for _, e := range entries(t, col) {
		byID[e.ID] = e
	}
	got, _ := json.Marshal(byID["post"].Fields)
	wantPic := `{"id":"pic","title":"Pic","description":"A pic","url":"https://images.ctfassets.net/s/pic/abc/pic.jpg","contentType":"image/jpeg","width":640,"height":480,"size":1234}`
	for _, want := range []string{
		`"author":{"id":"ada","contentType":"author","createdAt":"2025-01-01T00:00:02Z","updatedAt":"2025-02-01T00:00:00Z","revision":2,"fields":{"avatar":` + wantPic + `,"name":"Ada"}}`,
		`"hero":null`,
		`"data":{"target":` + wantPic + `}`,
		`,null]`, // the missing entry in "related"
		`"next":{"id":"b","contentType":"blogPost"`,
		`"next":{"id":"a","contentType":"blogPost"}`, // the cycle ends in a stub
	} {
		if !strings.Contains(string(got), want) {
			t.Errorf("fields lack %s\n%s", want, got)
		}
	}
	if !byID["post"].Modified().Equal(time.Date(2026, 5, 5, 5, 5, 5, 0, time.UTC)) {
		t.Errorf("Modified %v: want the linked asset's updatedAt", byID["post"].Modified())
	}
	for ref, rev := range map[Ref]int{"Entry:post": 3, "Entry:ada": 2, "Asset:pic": 4, "Entry:a": 1} {
		if refs(t, col)[ref] != rev {
			t.Errorf("Refs[%s] = %d, want %d", ref, refs(t, col)[ref], rev)
		}
	}
	// A link that rendered as null still ties the collection to its target:
	// publishing the target later must refresh this collection.
	if rev, ok := refs(t, col)["Asset:gone"]; !ok || rev != 0 {
		t.Errorf("unresolvable asset: Refs = %d, %v; want 0, true", rev, ok)
	}
}

// TestRecordedResponses parses real Delivery API answers.
func TestRecordedResponses(t *testing.T) {
	cases := []struct {
		file  string
		check func(t *testing.T, col *Collection)
	}{
		{"entries.json", func(t *testing.T, col *Collection) {
			nyan := find(t, col, "nyancat")
			bf, ok := nyan.Fields["bestFriend"].(*Entry)
			if !ok || bf.ID != "happycat" {
				t.Fatalf("bestFriend not resolved: %#v", nyan.Fields["bestFriend"])
			}
			img, ok := nyan.Fields["image"].(*Asset)
			if !ok || !strings.HasPrefix(img.URL, "https://images.") || img.Width == nil {
				t.Fatalf("image not resolved: %#v", nyan.Fields["image"])
			}
			if nyan.Revision != 5 || nyan.ContentType != "cat" {
				t.Fatalf("sys: %+v", nyan)
			}
		}},
		{"entries_unresolvable_assets.json", func(t *testing.T, col *Collection) {
			e := entries(t, col)[0]
			if e.Fields["singleAsset"] != nil {
				t.Fatalf("unresolvable single asset: %#v", e.Fields["singleAsset"])
			}
			multi := e.Fields["multiAsset"].([]any)
			if multi[0] != nil {
				t.Fatalf("unresolvable asset in a list: %#v", multi[0])
			}
			if a, ok := multi[1].(*Asset); !ok || a.ID != "WQ3RhaOWgsYTKNS4fu6vl" {
				t.Fatalf("resolvable asset in a list: %#v", multi[1])
			}
		}},
		{"entry_include_resolution.json", func(t *testing.T, col *Collection) {
			b, _ := json.Marshal(entries(t, col))
			if strings.Contains(string(b), `"linkType":"Entry"`) || strings.Contains(string(b), `"linkType":"Asset"`) {
				t.Fatalf("a link was left unresolved: %s", b)
			}
		}},
		{"entries_rich_text.json", func(t *testing.T, col *Collection) {
			b, _ := json.Marshal(entries(t, col))
			if !strings.Contains(string(b), `"nodeType":"embedded-entry-block"`) || !strings.Contains(string(b), `"target":{"id":`) {
				t.Fatalf("rich text embeds not resolved: %.400s", b)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			body := recorded(t, tc.file)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/vnd.contentful.delivery.v1+json")
				w.Write(body)
			}))
			defer srv.Close()
			c, err := New(Options{BaseURL: srv.URL, Space: "s", Token: token})
			if err != nil {
				t.Fatal(err)
			}
			col, err := c.Fetch(context.Background(), Query{ContentTypes: []string{"any"}})
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, col)
		})
	}
}

func find(t *testing.T, col *Collection, id string) *Entry {
	t.Helper()
	for _, e := range entries(t, col) {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("no entry %s", id)
	return nil
}

// recorded returns the body of the last 200 entries answer in a fixture.
func recorded(t *testing.T, name string) []byte {
	t.Helper()
	path := filepath.Join("testdata", "recorded", name)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("recorded Delivery API answers (copied from ../shared/fixtures/contentful): %v", err)
	}
	var interactions []struct {
		Request  struct{ URI string }
		Response struct {
			Status int
			Body   json.RawMessage
		}
	}
	if err := json.Unmarshal(raw, &interactions); err != nil {
		t.Fatal(err)
	}
	var body []byte
	for _, in := range interactions {
		if in.Response.Status == 200 && strings.Contains(in.Request.URI, "/entries") {
			body = in.Response.Body
		}
	}
	if body == nil {
		t.Fatalf("%s holds no entries answer", name)
	}
	return body
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	q := Query{ContentTypes: []string{"blogPost"}}

	t.Run("429 waits the reset", func(t *testing.T) {
		api, c, sl := newAPI(t)
		put(t, api, entry("p", "blogPost", 1, `{}`))
		api.Script(localapi.Fault{Status: 429, Reset: 7})
		if _, err := c.Fetch(ctx, q); err != nil {
			t.Fatal(err)
		}
		if len(sl.d) != 1 || sl.d[0] < 7*time.Second || sl.d[0] > 8*time.Second {
			t.Fatalf("waits %v, want one of about 7s", sl.d)
		}
	})
	t.Run("429 beyond the bound fails", func(t *testing.T) {
		api, c, _ := newAPI(t)
		api.Script(localapi.Fault{Status: 429, Reset: 1}, localapi.Fault{Status: 429, Reset: 1},
			localapi.Fault{Status: 429, Reset: 1}, localapi.Fault{Status: 429, Reset: 1}, localapi.Fault{Status: 429, Reset: 1})
		_, err := c.Fetch(ctx, q)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 429 || apiErr.ID != "RateLimitExceeded" {
			t.Fatalf("err = %v", err)
		}
		if n := len(api.Requests()); n != 4 {
			t.Fatalf("%d requests, want the 4 attempts", n)
		}
	})
	t.Run("a reset past the longest wait fails at once", func(t *testing.T) {
		api, c, sl := newAPI(t)
		api.Script(localapi.Fault{Status: 429, Reset: 3600})
		if _, err := c.Fetch(ctx, q); err == nil || len(sl.d) != 0 || len(api.Requests()) != 1 {
			t.Fatalf("err %v, waits %v", err, sl.d)
		}
	})
	t.Run("5xx and malformed back off then pass", func(t *testing.T) {
		api, c, sl := newAPI(t)
		put(t, api, entry("p", "blogPost", 1, `{}`))
		api.Script(localapi.Fault{Status: 500}, localapi.Fault{Malformed: true}, localapi.Fault{Status: 503})
		col, err := c.Fetch(ctx, q)
		if err != nil || len(entries(t, col)) != 1 {
			t.Fatalf("err %v", err)
		}
		if len(sl.d) != 3 {
			t.Fatalf("waits %v", sl.d)
		}
		for i, d := range sl.d {
			if hi := 100 * time.Millisecond << i; d < hi/2 || d > hi {
				t.Errorf("wait %d = %v, want within [%v, %v]", i, d, hi/2, hi)
			}
		}
	})
	t.Run("malformed beyond the bound fails", func(t *testing.T) {
		api, c, _ := newAPI(t)
		for range 4 {
			api.Script(localapi.Fault{Malformed: true})
		}
		if _, err := c.Fetch(ctx, q); !errors.Is(err, ErrMalformed) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a wrong token is not retried", func(t *testing.T) {
		api, c, sl := newAPI(t)
		api.SetToken("another")
		_, err := c.Fetch(ctx, q)
		var apiErr *APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 401 || len(sl.d) != 0 || len(api.Requests()) != 1 {
			t.Fatalf("err %v, waits %v", err, sl.d)
		}
		if strings.Contains(err.Error(), token) {
			t.Fatal("the error reveals the token")
		}
	})
	t.Run("a slow API times out per attempt", func(t *testing.T) {
		api, _, _ := newAPI(t)
		api.SetDelay(time.Minute)
		srv := httptest.NewServer(api)
		defer srv.Close()
		c, _ := New(Options{BaseURL: srv.URL, Space: "space1", Environment: "staging", Token: token,
			AttemptTimeout: 50 * time.Millisecond, Retry: RetryPolicy{Attempts: 2, BaseDelay: time.Millisecond}})
		if _, err := c.Fetch(ctx, q); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("cancellation stops at once", func(t *testing.T) {
		api, c, _ := newAPI(t)
		api.Script(localapi.Fault{Status: 500})
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.Fetch(ctx, q); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestShallowFetch: a shallow fetch asks for no includes (include=0, which
// the SDK would leave out: the API's default is 1) and fills the links by
// id, so the collection renders as a deep fetch does.
func TestShallowFetch(t *testing.T) {
	api, c, _ := newAPI(t)
	put(t, api,
		entry("a", "blogPost", 1, `{"slug":"a","author":`+link("Entry", "ada")+`,"next":`+link("Entry", "b")+`}`),
		entry("b", "blogPost", 1, `{"slug":"b"}`),
		entry("ada", "author", 2, `{"name":"Ada","avatar":`+link("Asset", "pic")+`}`),
		json.RawMessage(`{"sys":{"type":"Asset","id":"pic","revision":4},"fields":{"title":"Pic"}}`),
	)
	deep, err := c.Fetch(context.Background(), Query{ContentTypes: []string{"blogPost"}, Order: "sys.id"})
	if err != nil {
		t.Fatal(err)
	}
	api.Reset()
	shallow, err := c.Fetch(context.Background(), Query{ContentTypes: []string{"blogPost"}, Order: "sys.id", Shallow: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := api.Requests()[0].Query.Get("include"); got != "0" {
		t.Fatalf("a shallow fetch asked for include=%q", got)
	}
	d, _ := json.Marshal(entries(t, deep))
	s, _ := json.Marshal(entries(t, shallow))
	if string(d) != string(s) {
		t.Fatalf("a shallow fetch renders otherwise:\n%s\n%s", s, d)
	}
}
