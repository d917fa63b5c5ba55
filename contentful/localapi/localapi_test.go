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

func TestPaging(t *testing.T) {
	const n = 2500
	s := New("gen", "master", testToken)
	var es []json.RawMessage
	for i := range n {
		es = append(es, entry(fmt.Sprintf("post-%04d", i), "post", map[string]any{"title": fmt.Sprint("Post ", i), "rank": i % 7}))
	}
	if err := s.Put(es...); err != nil {
		t.Fatal(err)
	}
	ts := start(t, s)
	base := "/spaces/gen/environments/master/entries"

	c := getCollection(t, ts, base)
	if c.Total != n || c.Limit != 100 || c.Skip != 0 || len(c.Items) != 100 {
		t.Errorf("default page: total %d limit %d skip %d items %d", c.Total, c.Limit, c.Skip, len(c.Items))
	}

	var all []string
	for skip := 0; skip < n; skip += 1000 {
		c := getCollection(t, ts, fmt.Sprintf("%s?limit=1000&skip=%d", base, skip))
		if c.Total != n || c.Skip != skip || c.Limit != 1000 {
			t.Errorf("skip %d: total %d skip %d limit %d", skip, c.Total, c.Skip, c.Limit)
		}
		if want := min(1000, n-skip); len(c.Items) != want {
			t.Errorf("skip %d: %d items, want %d", skip, len(c.Items), want)
		}
		all = append(all, ids(t, c.Items)...)
	}
	if len(all) != n || !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != n {
		t.Errorf("pages did not return %d distinct entries in order (got %d)", n, len(all))
	}
	if all[0] != "post-0000" || all[n-1] != "post-2499" {
		t.Errorf("first/last %s/%s", all[0], all[n-1])
	}

	r := get(t, ts, base+"?skip=5000")
	if !bytes.Contains(r.body, []byte(`"items":[]`)) || !bytes.Contains(r.body, []byte(`"total":2500`)) {
		t.Errorf("skip past the end: %s", r.body)
	}
	if c := getCollection(t, ts, base+"?limit=0"); c.Total != n || len(c.Items) != 0 || c.Limit != 0 {
		t.Errorf("limit=0: total %d items %d limit %d", c.Total, len(c.Items), c.Limit)
	}
	if c := getCollection(t, ts, base+"?content_type=post&fields.rank=3&limit=1000"); c.Total != 357 {
		t.Errorf("fields.rank=3: total %d, want 357", c.Total)
	}

	for _, q := range []string{"limit=1001", "limit=-1", "limit=abc", "skip=-1", "include=11", "include=-1", "limit=1&limit=2"} {
		wantError(t, q, get(t, ts, base+"?"+q), http.StatusBadRequest, "InvalidQuery")
	}
}

func TestFilters(t *testing.T) {
	_, ts := fixtureServer(t)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"content_type=cat", []string{"garfield", "happycat", "nyancat"}},
		{"sys.contentType.sys.id[in]=cat,dog", []string{"6KntaYXaHSyIw8M6eo26OK", "garfield", "happycat", "jake", "nyancat"}},
		{"sys.contentType.sys.id=human", []string{"finn"}},
		{"sys.id=finn", []string{"finn"}},
		{"sys.id[in]=jake,finn,nobody", []string{"finn", "jake"}},
		{"content_type=cat&sys.id[nin]=garfield,nyancat", []string{"happycat"}},
		{"content_type=cat&fields.color=orange", []string{"garfield"}},
		{"content_type=cat&fields.likes=fish", []string{"nyancat"}},
		{"content_type=cat&fields.likes[all]=rainbows,fish", []string{"nyancat"}},
		{"content_type=cat&fields.lives[gte]=9", []string{"garfield", "nyancat"}},
		{"content_type=cat&fields.lives[lt]=9", []string{"happycat"}},
		{"content_type=cat&fields.birthday[lt]=2000-01-01", []string{"garfield"}},
		{"content_type=cat&fields.bestFriend.sys.id=nyancat", []string{"happycat"}},
		{"content_type=cat&fields.bestFriend[exists]=false", []string{"garfield"}},
		{"content_type=cat&fields.color[ne]=orange", []string{"happycat", "nyancat"}},
		{"sys.revision=8", []string{"happycat"}},
		{"content_type=nosuchtype", []string{}},
		{"foo=bar&sys.id=finn", []string{"finn"}}, // unknown parameters are ignored
	} {
		c := getCollection(t, ts, entries+"?"+tc.query)
		if got := ids(t, c.Items); !slices.Equal(got, tc.want) || c.Total != len(tc.want) {
			t.Errorf("%s: %v (total %d), want %v", tc.query, got, c.Total, tc.want)
		}
	}
	for _, q := range []string{
		"fields.color=orange", // fields need a content type
		"sys.contentType.sys.id[in]=cat,dog&fields.color=orange", // ... exactly one
		"order=fields.lives",
		"select=fields.name",
		"content_type=cat&fields.name[match]=Nyan", // unsupported operator
		"sys.id[near]=1,2",
		"sys.id[in=a",
		"fields.=x&content_type=cat",
		"content_type=cat&fields.bestFriend[exists]=maybe",
		"query=cat", // real parameter not implemented: refused, not ignored
		"locale=*",
		"content_type=cat&content_type=dog",
	} {
		wantError(t, q, get(t, ts, entries+"?"+q), http.StatusBadRequest, "InvalidQuery")
	}
}

func TestOrder(t *testing.T) {
	_, ts := fixtureServer(t)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"content_type=cat&order=-fields.lives", []string{"nyancat", "garfield", "happycat"}},
		{"content_type=cat&order=fields.lives", []string{"happycat", "garfield", "nyancat"}},
		{"content_type=cat&order=sys.createdAt", []string{"nyancat", "happycat", "garfield"}},
		{"content_type=cat&order=-sys.id", []string{"nyancat", "happycat", "garfield"}},
		{"content_type=cat&order=fields.birthday", []string{"garfield", "happycat", "nyancat"}},
	} {
		if got := ids(t, getCollection(t, ts, entries+"?"+tc.query).Items); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	wantError(t, "order=name", get(t, ts, entries+"?order=name"), http.StatusBadRequest, "InvalidQuery")
	wantError(t, "order=-", get(t, ts, entries+"?order=-"), http.StatusBadRequest, "InvalidQuery")

	// Ties keep sys.id ascending; missing values sort last in both directions.
	s := New("o", "master", testToken)
	err := s.Put(
		entry("e", "t", map[string]any{"n": 2}),
		entry("a", "t", map[string]any{"n": 2}),
		entry("c", "t", map[string]any{"n": 10}),
		entry("b", "t", map[string]any{}),
		entry("d", "t", map[string]any{"n": 1}),
		entry("f", "t", map[string]any{"n": nil}),
	)
	if err != nil {
		t.Fatal(err)
	}
	ots := start(t, s)
	base := "/spaces/o/environments/master/entries?content_type=t&order="
	for _, tc := range []struct {
		order string
		want  []string
	}{
		{"fields.n", []string{"d", "a", "e", "c", "b", "f"}}, // numeric: 10 after 2
		{"-fields.n", []string{"c", "a", "e", "d", "b", "f"}},
		{"fields.n,-sys.id", []string{"d", "e", "a", "c", "f", "b"}},
	} {
		if got := ids(t, getCollection(t, ots, base+tc.order).Items); !slices.Equal(got, tc.want) {
			t.Errorf("order=%s: %v, want %v", tc.order, got, tc.want)
		}
	}
}

func TestIncludes(t *testing.T) {
	_, ts := fixtureServer(t)
	r := get(t, ts, entries+"?sys.id=nyancat&include=0")
	if bytes.Contains(r.body, []byte(`"includes"`)) || bytes.Contains(r.body, []byte(`"errors"`)) {
		t.Errorf("include=0 answered includes or errors: %s", r.body)
	}
	for _, q := range []string{"sys.id=nyancat&include=1", "sys.id=nyancat"} { // default depth is 1
		c := getCollection(t, ts, entries+"?"+q)
		if g := ids(t, c.Includes["Entry"]); !slices.Equal(g, []string{"happycat"}) {
			t.Errorf("%s: includes.Entry %v", q, g)
		}
		// The happycat asset is two links away.
		if g := ids(t, c.Includes["Asset"]); !slices.Equal(g, []string{"nyancat"}) {
			t.Errorf("%s: includes.Asset %v", q, g)
		}
	}
	c := getCollection(t, ts, entries+"?sys.id[in]=nyancat,happycat&include=2")
	if _, ok := c.Includes["Entry"]; ok {
		t.Errorf("entries present in items were repeated in includes.Entry: %s", c.Includes["Entry"])
	}
	if g := ids(t, c.Includes["Asset"]); !slices.Equal(g, []string{"happycat", "nyancat"}) {
		t.Errorf("includes.Asset %v", g)
	}

	// Cycles, self-links and links inside rich text documents.
	s := New("i", "master", testToken)
	doc := map[string]any{"nodeType": "document", "data": map[string]any{}, "content": []any{
		map[string]any{"nodeType": "embedded-entry-block", "data": map[string]any{"target": link("Entry", "d")}, "content": []any{}},
		map[string]any{"nodeType": "paragraph", "data": map[string]any{}, "content": []any{
			map[string]any{"nodeType": "embedded-asset-inline", "data": map[string]any{"target": link("Asset", "x")}},
		}},
	}}
	err := s.Put(
		entry("a", "t", map[string]any{"next": link("Entry", "b"), "self": link("Entry", "a")}),
		entry("b", "t", map[string]any{"next": link("Entry", "a"), "more": []any{link("Entry", "c")}}),
		entry("c", "t", map[string]any{"body": doc}),
		entry("d", "t", map[string]any{"title": "D"}),
		asset("x"),
	)
	if err != nil {
		t.Fatal(err)
	}
	its := start(t, s)
	base := "/spaces/i/environments/master/entries?sys.id=a&include="
	for _, tc := range []struct {
		depth          string
		entries, asset []string
	}{
		{"1", []string{"b"}, []string{}},
		{"2", []string{"b", "c"}, []string{}},
		{"3", []string{"b", "c", "d"}, []string{"x"}},
		{"10", []string{"b", "c", "d"}, []string{"x"}},
	} {
		c := getCollection(t, its, base+tc.depth)
		if g := ids(t, c.Includes["Entry"]); !slices.Equal(g, tc.entries) {
			t.Errorf("include=%s: includes.Entry %v, want %v", tc.depth, g, tc.entries)
		}
		if g := ids(t, c.Includes["Asset"]); !slices.Equal(g, tc.asset) {
			t.Errorf("include=%s: includes.Asset %v, want %v", tc.depth, g, tc.asset)
		}
		if len(c.Errors) != 0 {
			t.Errorf("include=%s: errors %s", tc.depth, c.Errors)
		}
	}
}

func TestNotResolvableAfterDelete(t *testing.T) {
	s, ts := fixtureServer(t)
	errorsOf := func(q string) []string {
		t.Helper()
		var out []string
		for _, e := range getCollection(t, ts, entries+"?"+q).Errors {
			out = append(out, string(decodeCompact(t, e)))
		}
		return out
	}
	notResolvable := func(linkType, id string) string {
		return fmt.Sprintf(`{"details":{"id":%q,"linkType":%q,"type":"Link"},"sys":{"id":"notResolvable","type":"error"}}`, id, linkType)
	}

	// A qualified id removes only the asset; the entry of the same id stays.
	s.Delete("Asset:happycat")
	if got, want := errorsOf("sys.id=nyancat&include=2"), []string{notResolvable("Asset", "happycat")}; !slices.Equal(got, want) {
		t.Errorf("after deleting asset happycat: errors %v, want %v", got, want)
	}
	if got := errorsOf("sys.id=nyancat&include=0"); len(got) != 0 {
		t.Errorf("include=0 resolves nothing, so reports nothing: %v", got)
	}

	// A plain id removes the entry (and the asset, already gone).
	s.Delete("happycat", "no-such-id")
	c := getCollection(t, ts, entries+"?sys.id=nyancat&include=2")
	if _, ok := c.Includes["Entry"]; ok {
		t.Errorf("deleted entry still included")
	}
	if g := ids(t, c.Includes["Asset"]); !slices.Equal(g, []string{"nyancat"}) {
		t.Errorf("includes.Asset %v", g)
	}
	if got, want := errorsOf("sys.id=nyancat&include=2"), []string{notResolvable("Entry", "happycat")}; !slices.Equal(got, want) {
		t.Errorf("after deleting entry happycat: errors %v, want %v", got, want)
	}
	if c := getCollection(t, ts, entries); c.Total != 9 {
		t.Errorf("total after delete %d, want 9", c.Total)
	}

	// Several links to one missing entity give one error.
	s.Delete("Asset:1x0xpXu4pSGS4OukSyWGUK")
	if err := s.Put(entry("dup", "dog", map[string]any{"image": link("Asset", "1x0xpXu4pSGS4OukSyWGUK")})); err != nil {
		t.Fatal(err)
	}
	if got, want := errorsOf("content_type=dog"), []string{notResolvable("Asset", "1x0xpXu4pSGS4OukSyWGUK")}; !slices.Equal(got, want) {
		t.Errorf("duplicate missing links: errors %v, want %v", got, want)
	}
}

func TestAuth(t *testing.T) {
	s, ts := fixtureServer(t)
	ctx := context.Background()
	for _, tc := range []struct{ name, token, query string }{
		{"no token", "", ""},
		{"wrong bearer", "wrong", ""},
		{"wrong access_token", "", "?access_token=wrong"},
	} {
		r, err := fetch(ctx, ts, http.MethodGet, entries+tc.query, tc.token)
		if err != nil {
			t.Fatal(err)
		}
		e := wantError(t, tc.name, r, http.StatusUnauthorized, "AccessTokenInvalid")
		if e.Message == "" {
			t.Errorf("%s: empty message", tc.name)
		}
	}
	if r, _ := fetch(ctx, ts, http.MethodGet, entries+"?access_token="+testToken, ""); r.status != http.StatusOK {
		t.Errorf("access_token parameter: status %d", r.status)
	}

	s.SetToken("rotated")
	wantError(t, "revoked token", get(t, ts, entries), http.StatusUnauthorized, "AccessTokenInvalid")
	if r, _ := fetch(ctx, ts, http.MethodGet, entries, "rotated"); r.status != http.StatusOK {
		t.Errorf("new token: status %d", r.status)
	}
}

func TestRoutes(t *testing.T) {
	_, ts := fixtureServer(t)
	if c := getCollection(t, ts, "/spaces/"+testSpace+"/entries?sys.id=finn"); c.Total != 1 {
		t.Errorf("environment-less path: total %d", c.Total)
	}
	if c := getCollection(t, ts, assets); c.Total != 4 || !slices.Equal(ids(t, c.Items), []string{"1x0xpXu4pSGS4OukSyWGUK", "happycat", "jake", "nyancat"}) {
		t.Errorf("assets: total %d, %v", c.Total, ids(t, c.Items))
	}
	if c := getCollection(t, ts, assets+"?limit=1&skip=1"); c.Total != 4 || !slices.Equal(ids(t, c.Items), []string{"happycat"}) {
		t.Errorf("assets paging: %v", ids(t, c.Items))
	}
	r := get(t, ts, entries+"/nyancat?locale=en-GB")
	var one struct {
		Sys struct{ ID, Type, Locale string } `json:"sys"`
	}
	if err := json.Unmarshal(r.body, &one); err != nil || r.status != 200 || one.Sys.ID != "nyancat" || one.Sys.Type != "Entry" || one.Sys.Locale != "en-GB" {
		t.Errorf("single entry: %d %s", r.status, r.body)
	}
	if r := get(t, ts, assets+"/nyancat"); r.status != 200 || !bytes.Contains(r.body, []byte(`"type":"Asset"`)) {
		t.Errorf("single asset: %d %s", r.status, r.body)
	}
	for _, p := range []string{
		entries + "/nobody",
		"/spaces/other/environments/master/entries",
		"/spaces/" + testSpace + "/environments/staging/entries",
		"/spaces/" + testSpace + "/environments/master/content_types",
		"/spaces/" + testSpace,
		"/",
	} {
		wantError(t, p, get(t, ts, p), http.StatusNotFound, "NotFound")
	}
	r, err := fetch(context.Background(), ts, http.MethodPost, entries, testToken)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, "POST", r, http.StatusMethodNotAllowed, "MethodNotAllowed")
	if r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: Allow %q", r.header.Get("Allow"))
	}

	// A non-master environment is not served at the environment-less path.
	s := New("sp", "staging", testToken)
	if err := s.Put(entry("x", "t", nil)); err != nil {
		t.Fatal(err)
	}
	sts := start(t, s)
	if c := getCollection(t, sts, "/spaces/sp/environments/staging/entries"); c.Total != 1 {
		t.Errorf("staging: total %d", c.Total)
	}
	wantError(t, "environment-less on staging", get(t, sts, "/spaces/sp/entries"), http.StatusNotFound, "NotFound")
}

func TestLocaleAndSelect(t *testing.T) {
	_, ts := fixtureServer(t)
	c := getCollection(t, ts, entries+"?sys.id=nyancat&locale=de-DE")
	for _, raw := range append(slices.Clone(c.Items), append(c.Includes["Entry"], c.Includes["Asset"]...)...) {
		if !bytes.Contains(raw, []byte(`"locale":"de-DE"`)) {
			t.Errorf("locale not echoed: %s", raw)
		}
	}
	// The stored content is not changed by a locale query.
	if c := getCollection(t, ts, entries+"?sys.id=nyancat"); !bytes.Contains(c.Items[0], []byte(`"locale":"en-US"`)) {
		t.Errorf("locale leaked into stored content: %s", c.Items[0])
	}
	c = getCollection(t, ts, entries+"?content_type=cat&select=sys.id,fields.name&sys.id=garfield")
	if got := string(c.Items[0]); got != `{"fields":{"name":"Garfield"},"sys":{"id":"garfield"}}` {
		t.Errorf("select: %s", got)
	}
}

func TestFaults(t *testing.T) {
	s, ts := fixtureServer(t)
	rl := readFixture(t, "ratelimit.json")[0]
	var fixtureErr errorBody
	if err := json.Unmarshal(rl.Response.Body, &fixtureErr); err != nil {
		t.Fatal(err)
	}

	s.Script(Fault{Status: 429, Reset: 7}, Fault{Status: 503}, Fault{}, Fault{Status: 500})
	r := get(t, ts, entries)
	e := wantError(t, "429 fault", r, http.StatusTooManyRequests, "RateLimitExceeded")
	if r.header.Get("X-Contentful-RateLimit-Reset") != "7" {
		t.Errorf("X-Contentful-RateLimit-Reset %q", r.header.Get("X-Contentful-RateLimit-Reset"))
	}
	if e.Sys != fixtureErr.Sys || e.Message != fixtureErr.Message {
		t.Errorf("429 body %s, fixture %s", r.body, rl.Response.Body)
	}
	if k, wk := topKeys(t, r.body), topKeys(t, rl.Response.Body); !slices.Equal(k, wk) {
		t.Errorf("429 keys %v, fixture %v", k, wk)
	}
	wantError(t, "503 fault", get(t, ts, entries), http.StatusServiceUnavailable, "ServiceUnavailable")
	getCollection(t, ts, entries) // the zero Fault answers normally
	wantError(t, "500 fault", get(t, ts, entries+"/nyancat"), http.StatusInternalServerError, "ServerError")
	getCollection(t, ts, entries) // queue empty

	// Faults come before authentication and only on entries endpoints.
	s.Script(Fault{Status: 429})
	getCollection(t, ts, assets)
	r, _ = fetch(context.Background(), ts, http.MethodGet, entries, "")
	wantError(t, "429 without token", r, http.StatusTooManyRequests, "RateLimitExceeded")

	s.Script(Fault{Malformed: true}, Fault{Malformed: true, Status: 502})
	for _, status := range []int{200, 502} {
		r := get(t, ts, entries)
		if r.status != status || json.Valid(r.body) || len(r.body) == 0 || r.header.Get("Content-Type") != deliveryContentType {
			t.Errorf("malformed fault: status %d (want %d), body %q", r.status, status, r.body)
		}
	}
	getCollection(t, ts, entries)
}

func TestDelay(t *testing.T) {
	s, ts := fixtureServer(t)
	waitStatus := func(i, want int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			reqs := s.Requests()
			if len(reqs) > i && reqs[i].Status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("request %d: status never became %d: %+v", i, want, reqs)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	cancelled := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := fetch(ctx, ts, http.MethodGet, entries, testToken); err == nil {
			t.Errorf("%s: request succeeded despite cancellation", what)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: cancellation took %v", what, d)
		}
	}

	s.SetDelay(time.Minute)
	cancelled("SetDelay")
	waitStatus(0, statusClientClosed) // the handler gave up too

	s.SetDelay(30 * time.Millisecond)
	start := time.Now()
	getCollection(t, ts, entries)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("SetDelay(30ms): answered in %v", d)
	}
	s.SetDelay(0)

	s.Script(Fault{Delay: time.Minute})
	cancelled("Fault.Delay")
	waitStatus(2, statusClientClosed)
	getCollection(t, ts, entries) // the fault was consumed

	s.Script(Fault{Delay: 30 * time.Millisecond, Status: 503})
	start = time.Now()
	wantError(t, "delayed 503", get(t, ts, entries), http.StatusServiceUnavailable, "ServiceUnavailable")
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("Fault.Delay 30ms: answered in %v", d)
	}
}

func TestLag(t *testing.T) {
	s, ts := fixtureServer(t)
	revision := func() string {
		t.Helper()
		c := getCollection(t, ts, entries+"?sys.id=nyancat")
		var e struct {
			Sys struct {
				Revision json.Number `json:"revision"`
			} `json:"sys"`
		}
		if len(c.Items) != 1 || json.Unmarshal(c.Items[0], &e) != nil {
			t.Fatalf("nyancat: %s", c.Items)
		}
		return e.Sys.Revision.String()
	}
	_, fx := fixtureBody(t, "entry_include_resolution.json")
	nyan := decode(t, fx.Items[0]).(map[string]any)
	if rev := nyan["sys"].(map[string]any)["revision"]; rev != json.Number("5") {
		t.Fatalf("fixture nyancat has revision %v, want 5", rev)
	}
	nyan["sys"].(map[string]any)["revision"] = 6
	updated, err := json.Marshal(nyan)
	if err != nil {
		t.Fatal(err)
	}

	if err := s.PutLagged(updated, entry("newcat", "cat", map[string]any{"name": "New"})); err != nil {
		t.Fatal(err)
	}
	s.DeleteLagged("finn")
	if err := s.PutLagged(json.RawMessage(`{"sys":{"type":"Entry"}}`)); err == nil {
		t.Error("PutLagged accepted an entry without id")
	}
	if got := revision(); got != "5" {
		t.Errorf("before ReleaseLag: revision %s, want the old 5", got)
	}
	if c := getCollection(t, ts, entries+"?sys.id[in]=finn,newcat"); !slices.Equal(ids(t, c.Items), []string{"finn"}) {
		t.Errorf("before ReleaseLag: %v, want only finn", ids(t, c.Items))
	}

	s.ReleaseLag()
	if got := revision(); got != "6" {
		t.Errorf("after ReleaseLag: revision %s, want 6", got)
	}
	if c := getCollection(t, ts, entries+"?sys.id[in]=finn,newcat"); !slices.Equal(ids(t, c.Items), []string{"newcat"}) {
		t.Errorf("after ReleaseLag: %v, want only newcat", ids(t, c.Items))
	}
	s.ReleaseLag() // nothing pending
	if c := getCollection(t, ts, entries); c.Total != 10 {
		t.Errorf("total %d, want 10", c.Total)
	}
}

func TestPutValidation(t *testing.T) {
	s := New("v", "", testToken)
	for _, bad := range []string{
		`not json`,
		`[]`,
		`{"fields":{}}`,
		`{"sys":{"type":"ContentType","id":"x"}}`,
		`{"sys":{"type":"Entry","id":""}}`,
		`{"sys":{"type":"Entry","id":"x"}}`,
		`{"sys":{"type":"Asset","id":"x"},"fields":[]}`,
		`{"sys":{"type":"Asset","id":"x"}} {}`,
	} {
		if err := s.Put(asset("ok"), json.RawMessage(bad)); err == nil {
			t.Errorf("Put accepted %s", bad)
		}
	}
	ts := start(t, s)
	base := "/spaces/v/environments/master/" // "" environment means master
	if c := getCollection(t, ts, base+"assets"); c.Total != 0 {
		t.Errorf("a failed Put stored %d assets", c.Total)
	}

	if err := s.Put(entry("x", "t", map[string]any{"v": 1}), asset("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(entry("x", "t", map[string]any{"v": 2})); err != nil { // replaces the entry only
		t.Fatal(err)
	}
	c := getCollection(t, ts, base+"entries")
	if c.Total != 1 || !bytes.Contains(c.Items[0], []byte(`"v":2`)) {
		t.Errorf("replace: %s", c.Items)
	}
	for _, want := range []string{
		`"space":{"sys":{"id":"v","linkType":"Space","type":"Link"}}`,
		`"environment":{"sys":{"id":"master","linkType":"Environment","type":"Link"}}`,
	} {
		if !bytes.Contains(c.Items[0], []byte(want)) {
			t.Errorf("missing %s in %s", want, c.Items[0])
		}
	}
	if c := getCollection(t, ts, base+"assets"); c.Total != 1 {
		t.Errorf("an entry and an asset of one id must coexist: %d assets", c.Total)
	}
}

func TestLoad(t *testing.T) {
	s := New("l", "master", testToken)
	doc := fmt.Sprintf(`{"entries":[%s,%s],"assets":[%s]}`,
		entry("a", "t", map[string]any{"img": link("Asset", "p")}), entry("b", "t", nil), asset("p"))
	if err := s.Load([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	c := getCollection(t, start(t, s), "/spaces/l/entries?sys.id=a")
	if g := ids(t, c.Includes["Asset"]); !slices.Equal(g, []string{"p"}) {
		t.Errorf("loaded asset not included: %v", g)
	}
	for _, bad := range []string{
		fmt.Sprintf(`{"entries":[%s]}`, asset("q")),
		fmt.Sprintf(`{"assets":[%s]}`, entry("q", "t", nil)),
		`{"entries":[],"posts":[]}`,
		`{"entries":[]} x`,
	} {
		if err := s.Load([]byte(bad)); err == nil {
			t.Errorf("Load accepted %s", bad)
		}
	}
}

func TestRequestsAndDeterminism(t *testing.T) {
	s, ts := fixtureServer(t)
	first := get(t, ts, entries+"?include=2&order=-sys.updatedAt")
	second := get(t, ts, entries+"?include=2&order=-sys.updatedAt")
	if !bytes.Equal(first.body, second.body) {
		t.Errorf("same query, different answers")
	}
	get(t, ts, entries+"?limit=2000")

	reqs := s.Requests()
	if len(reqs) != 3 || reqs[0].Path != entries || reqs[0].Query.Get("include") != "2" ||
		reqs[0].Status != 200 || reqs[2].Status != 400 {
		t.Fatalf("Requests() = %+v", reqs)
	}
	reqs[0].Query.Set("include", "9")
	if s.Requests()[0].Query.Get("include") != "2" {
		t.Errorf("Requests() exposes internal state")
	}
	if n := s.Count(func(r Request) bool { return r.Status == 400 }); n != 1 {
		t.Errorf("Count(400) = %d", n)
	}
	if n := s.Count(nil); n != 3 {
		t.Errorf("Count(nil) = %d", n)
	}
	s.Reset()
	if n := s.Count(nil); n != 0 {
		t.Errorf("after Reset: %d requests", n)
	}
	if c := getCollection(t, ts, entries); c.Total != 10 {
		t.Errorf("Reset dropped content: total %d", c.Total)
	}

	// Content put in another order gives byte-identical answers.
	other := New(testSpace, "master", testToken)
	for _, name := range []string{"entry_include_resolution.json", "entries.json"} {
		_, c := fixtureBody(t, name)
		raws := entitiesOf(c)
		slices.Reverse(raws)
		if err := other.Put(raws...); err != nil {
			t.Fatal(err)
		}
	}
	if r := get(t, start(t, other), entries+"?include=2&order=-sys.updatedAt"); !bytes.Equal(r.body, first.body) {
		t.Errorf("answer depends on insertion order")
	}
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
