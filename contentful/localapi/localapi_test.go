package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	// fixtureDir holds real recorded Delivery API answers, relative to this
	// package's directory.
	fixtureDir = "../testdata/recorded"
	testSpace  = "cfexampleapi"
	testToken  = "test-token"
	entries    = "/spaces/" + testSpace + "/environments/master/entries"
	assets     = "/spaces/" + testSpace + "/environments/master/assets"
)

// interaction is one recorded request and answer of a fixture file.
type interaction struct {
	Request struct {
		Method string `json:"method"`
		URI    string `json:"uri"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"response"`
}

// collection is a decoded collection answer.
type collection struct {
	Sys struct {
		Type string `json:"type"`
	} `json:"sys"`
	Total    int                          `json:"total"`
	Skip     int                          `json:"skip"`
	Limit    int                          `json:"limit"`
	Items    []json.RawMessage            `json:"items"`
	Includes map[string][]json.RawMessage `json:"includes"`
	Errors   []json.RawMessage            `json:"errors"`
}

// errorBody is a decoded Contentful error.
type errorBody struct {
	Sys struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"sys"`
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
}

// response is what a test request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// readFixture loads a fixture file; a missing fixture fails the test, because
// skipping would hide that the local API is no longer checked against
// Contentful's real answers.
func readFixture(t *testing.T, name string) []interaction {
	t.Helper()
	path := filepath.Join(fixtureDir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("fixture %s is required (recorded Contentful answers, expected at %s relative to contentful/localapi): %v", name, path, err)
	}
	var its []interaction
	if err := json.Unmarshal(b, &its); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	if len(its) == 0 {
		t.Fatalf("fixture %s holds no interactions", name)
	}
	return its
}

// fixtureBody returns the decoded body of the interaction whose URI starts
// with an entries path.
func fixtureBody(t *testing.T, name string) (interaction, collection) {
	t.Helper()
	for _, it := range readFixture(t, name) {
		if strings.Contains(it.Request.URI, "/entries") {
			var c collection
			if err := json.Unmarshal(it.Response.Body, &c); err != nil {
				t.Fatalf("fixture %s: %v", name, err)
			}
			return it, c
		}
	}
	t.Fatalf("fixture %s has no entries request", name)
	return interaction{}, collection{}
}

// entitiesOf returns every entity of a collection: items and includes.
func entitiesOf(c collection) []json.RawMessage {
	out := slices.Clone(c.Items)
	out = append(out, c.Includes["Entry"]...)
	return append(out, c.Includes["Asset"]...)
}

// start mounts s on a test HTTP server.
func start(t *testing.T, s *Server) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

// fixtureServer returns a Server holding the content of entries.json and
// entry_include_resolution.json, and its test HTTP server.
func fixtureServer(t *testing.T) (*Server, *httptest.Server) {
	t.Helper()
	s := New(testSpace, "master", testToken)
	for _, name := range []string{"entries.json", "entry_include_resolution.json"} {
		_, c := fixtureBody(t, name)
		if err := s.Put(entitiesOf(c)...); err != nil {
			t.Fatalf("Put(%s): %v", name, err)
		}
	}
	return s, start(t, s)
}

// fetch sends a request with the given bearer token ("" for none).
func fetch(ctx context.Context, ts *httptest.Server, method, pathQuery, token string) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, ts.URL+pathQuery, nil)
	if err != nil {
		return response{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		return response{}, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return response{res.StatusCode, res.Header, body}, err
}

// get sends an authorised GET and fails the test on transport errors.
func get(t *testing.T, ts *httptest.Server, pathQuery string) response {
	t.Helper()
	r, err := fetch(context.Background(), ts, http.MethodGet, pathQuery, testToken)
	if err != nil {
		t.Fatalf("GET %s: %v", pathQuery, err)
	}
	return r
}

// getCollection sends an authorised GET that must succeed and decodes it.
func getCollection(t *testing.T, ts *httptest.Server, pathQuery string) collection {
	t.Helper()
	r := get(t, ts, pathQuery)
	if r.status != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %s", pathQuery, r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != deliveryContentType {
		t.Errorf("GET %s: Content-Type %q", pathQuery, ct)
	}
	if r.header.Get("X-Contentful-Request-Id") == "" {
		t.Errorf("GET %s: no X-Contentful-Request-Id", pathQuery)
	}
	var c collection
	if err := json.Unmarshal(r.body, &c); err != nil {
		t.Fatalf("GET %s: %v in %s", pathQuery, err, r.body)
	}
	if c.Sys.Type != "Array" {
		t.Errorf("GET %s: sys.type %q", pathQuery, c.Sys.Type)
	}
	return c
}

// wantError checks that r is a Contentful error with the given status and id.
func wantError(t *testing.T, what string, r response, status int, id string) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("%s: status %d, body not JSON: %v: %s", what, r.status, err, r.body)
	}
	if r.status != status || e.Sys.Type != "Error" || e.Sys.ID != id {
		t.Errorf("%s: got %d %s/%s, want %d Error/%s (%s)", what, r.status, e.Sys.Type, e.Sys.ID, status, id, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != deliveryContentType {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
	if e.RequestID == "" || e.RequestID != r.header.Get("X-Contentful-Request-Id") {
		t.Errorf("%s: requestId %q, header %q", what, e.RequestID, r.header.Get("X-Contentful-Request-Id"))
	}
	return e
}

// ids returns the sys.id of each entity.
func ids(t *testing.T, raws []json.RawMessage) []string {
	t.Helper()
	out := []string{}
	for _, raw := range raws {
		var e struct {
			Sys struct {
				ID string `json:"id"`
			} `json:"sys"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatalf("entity %s: %v", raw, err)
		}
		out = append(out, e.Sys.ID)
	}
	return out
}

// decode decodes JSON keeping numbers exact, for deep comparisons.
func decode(t *testing.T, raw []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// topKeys returns the sorted top-level keys of a JSON object.
func topKeys(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

// entry builds an entry in Delivery API shape.
func entry(id, contentType string, fields map[string]any) json.RawMessage {
	b, err := json.Marshal(map[string]any{
		"sys": map[string]any{
			"type": "Entry", "id": id, "revision": 1,
			"contentType": map[string]any{"sys": map[string]any{"type": "Link", "linkType": "ContentType", "id": contentType}},
			"createdAt":   "2024-01-01T00:00:00.000Z", "updatedAt": "2024-01-01T00:00:00.000Z",
		},
		"fields": fields,
	})
	if err != nil {
		panic(err)
	}
	return b
}

// asset builds an asset in Delivery API shape.
func asset(id string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Asset","id":%q,"revision":1},"fields":{"title":%q,
		"file":{"url":"//images.ctfassets.net/x/%s/a.png","contentType":"image/png","details":{"size":1,"image":{"width":1,"height":1}}}}}`, id, id, id))
}

// link builds a link field value.
func link(linkType, id string) map[string]any {
	return map[string]any{"sys": map[string]any{"type": "Link", "linkType": linkType, "id": id}}
}

// withoutEnvironment removes sys.environment, which Put adds to fixture
// entities recorded without one.
func withoutEnvironment(v any) any {
	if m, ok := v.(map[string]any); ok {
		if sys, ok := m["sys"].(map[string]any); ok {
			delete(sys, "environment")
		}
	}
	return v
}

func TestFixtureIncludeResolution(t *testing.T) {
	_, ts := fixtureServer(t)
	it, want := fixtureBody(t, "entry_include_resolution.json")
	r := get(t, ts, it.Request.URI) // ?include=2&sys.id=nyancat
	got := getCollection(t, ts, it.Request.URI)

	if k, wk := topKeys(t, r.body), topKeys(t, it.Response.Body); !slices.Equal(k, wk) {
		t.Errorf("top-level keys %v, fixture has %v", k, wk)
	}
	if got.Total != want.Total || got.Skip != want.Skip || got.Limit != want.Limit {
		t.Errorf("total/skip/limit %d/%d/%d, fixture %d/%d/%d", got.Total, got.Skip, got.Limit, want.Total, want.Skip, want.Limit)
	}
	for _, part := range []struct {
		name      string
		got, want []json.RawMessage
	}{
		{"items", got.Items, want.Items},
		{"includes.Entry", got.Includes["Entry"], want.Includes["Entry"]},
		{"includes.Asset", got.Includes["Asset"], want.Includes["Asset"]},
	} {
		if g, w := ids(t, part.got), ids(t, part.want); !slices.Equal(g, w) {
			t.Errorf("%s: ids %v, fixture %v", part.name, g, w)
			continue
		}
		for i := range part.got {
			g := withoutEnvironment(decode(t, part.got[i]))
			if w := decode(t, part.want[i]); !reflect.DeepEqual(g, w) {
				t.Errorf("%s[%d] differs from the fixture:\n got %s\nwant %s", part.name, i, part.got[i], part.want[i])
			}
		}
	}
}

func TestFixtureEntries(t *testing.T) {
	_, ts := fixtureServer(t)
	it, want := fixtureBody(t, "entries.json")
	r := get(t, ts, it.Request.URI)
	got := getCollection(t, ts, it.Request.URI)
	if k, wk := topKeys(t, r.body), topKeys(t, it.Response.Body); !slices.Equal(k, wk) {
		t.Errorf("top-level keys %v, fixture has %v", k, wk)
	}
	if got.Total != 10 || got.Total != want.Total || got.Limit != 100 || got.Skip != 0 {
		t.Errorf("total/skip/limit %d/%d/%d", got.Total, got.Skip, got.Limit)
	}
	gotIDs := ids(t, got.Items)
	if !slices.IsSorted(gotIDs) {
		t.Errorf("default order is not sys.id ascending: %v", gotIDs)
	}
	if w := slices.Sorted(slices.Values(ids(t, want.Items))); !slices.Equal(gotIDs, w) {
		t.Errorf("items %v, fixture %v", gotIDs, w)
	}
	// Every linked entry is an item, so the API sends no includes.Entry.
	if _, ok := got.Includes["Entry"]; ok {
		t.Errorf("includes.Entry present though every linked entry is an item")
	}
	gotA := ids(t, got.Includes["Asset"])
	if w := slices.Sorted(slices.Values(ids(t, want.Includes["Asset"]))); !slices.Equal(gotA, w) {
		t.Errorf("includes.Asset %v, fixture %v", gotA, w)
	}
	if bytes.Contains(r.body, []byte(`"errors"`)) {
		t.Errorf("errors present though every link resolves")
	}
}

func TestFixtureUnresolvableAssets(t *testing.T) {
	it, want := fixtureBody(t, "entries_unresolvable_assets.json")
	s := New("facgnwwgj5fe", "master", testToken)
	if err := s.Put(entitiesOf(want)...); err != nil {
		t.Fatal(err)
	}
	ts := start(t, s)
	r := get(t, ts, it.Request.URI)
	got := getCollection(t, ts, it.Request.URI)
	if k, wk := topKeys(t, r.body), topKeys(t, it.Response.Body); !slices.Equal(k, wk) {
		t.Errorf("top-level keys %v, fixture has %v", k, wk)
	}
	gotErrs, _ := json.Marshal(got.Errors)
	wantErrs, _ := json.Marshal(want.Errors)
	if !reflect.DeepEqual(decode(t, gotErrs), decode(t, wantErrs)) {
		t.Errorf("errors\n got %s\nwant %s", gotErrs, wantErrs)
	}
	if g, w := ids(t, got.Includes["Asset"]), ids(t, want.Includes["Asset"]); !slices.Equal(g, w) {
		t.Errorf("includes.Asset %v, fixture %v", g, w)
	}
	if g, w := ids(t, got.Items), ids(t, want.Items); !slices.Equal(g, w) {
		t.Errorf("items %v, fixture %v", g, w)
	}
	for i := range got.Items { // recorded with sys.environment, so exactly equal
		if !reflect.DeepEqual(decode(t, got.Items[i]), decode(t, want.Items[i])) {
			t.Errorf("item differs from the fixture:\n got %s\nwant %s", got.Items[i], want.Items[i])
		}
	}
}

func TestFixtureRichTextLinks(t *testing.T) {
	it, want := fixtureBody(t, "entries_rich_text.json")
	s := New("jd7yc4wnatx3", "master", testToken)
	if err := s.Put(entitiesOf(want)...); err != nil {
		t.Fatal(err)
	}
	got := getCollection(t, start(t, s), it.Request.URI)
	if g, w := ids(t, got.Includes["Entry"]), ids(t, want.Includes["Entry"]); !slices.Equal(g, w) {
		t.Errorf("entries embedded in rich text: includes.Entry %v, fixture %v", g, w)
	}
	// The real API repeats an error per occurrence; the local one reports
	// each unresolvable link once.
	var g, w []string
	for _, e := range got.Errors {
		g = append(g, string(e))
	}
	for _, e := range want.Errors {
		if !slices.Contains(w, string(decodeCompact(t, e))) {
			w = append(w, string(decodeCompact(t, e)))
		}
	}
	for i := range g {
		g[i] = string(decodeCompact(t, json.RawMessage(g[i])))
	}
	slices.Sort(g)
	slices.Sort(w)
	if len(w) != 1 || !slices.Equal(g, w) {
		t.Errorf("errors %v, want the fixture's distinct errors %v", g, w)
	}
}

// decodeCompact re-encodes raw with sorted keys, for order-insensitive
// comparison of objects.
func decodeCompact(t *testing.T, raw json.RawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(decode(t, raw))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConcurrentUse(t *testing.T) {
	s, ts := fixtureServer(t)
	var readers, writer sync.WaitGroup
	done := make(chan struct{})
	writer.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			id := fmt.Sprint("c", i)
			if err := s.Put(entry(id, "cat", map[string]any{"friend": link("Entry", "nyancat")})); err != nil {
				t.Error(err)
			}
			if err := s.PutLagged(entry(id+"l", "cat", nil)); err != nil {
				t.Error(err)
			}
			s.DeleteLagged(id)
			s.SetDelay(0)
			s.SetToken(testToken)
			_ = s.Requests()
			_ = s.Count(func(r Request) bool { return r.Status == 200 })
			if i%10 == 0 {
				s.Script(Fault{Status: 503})
				s.ReleaseLag()
				s.Reset()
			}
			s.Delete(id)
			time.Sleep(50 * time.Microsecond) // leave the readers room
		}
	})
	for g := range 8 {
		readers.Go(func() {
			for i := range 12 {
				r, err := fetch(context.Background(), ts, http.MethodGet, fmt.Sprintf("%s?include=2&skip=%d", entries, (g+i)%5), testToken)
				if err != nil {
					t.Error(err)
					return
				}
				if r.status != 200 && r.status != 503 {
					t.Errorf("status %d: %s", r.status, r.body)
				}
			}
		})
	}
	readers.Wait()
	close(done)
	writer.Wait()
}
