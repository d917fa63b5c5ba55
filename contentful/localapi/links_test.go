package localapi

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// linkSpace is a small blog whose posts link an author, a hero asset,
// related posts and, inside a rich text body, other posts and an asset.
func linkSpace(t *testing.T) (*Server, string) {
	t.Helper()
	s := New("l", "master", testToken)
	body := func(nodes ...any) map[string]any {
		return map[string]any{"nodeType": "document", "data": map[string]any{}, "content": []any{
			map[string]any{"nodeType": "paragraph", "data": map[string]any{}, "content": nodes},
		}}
	}
	node := func(typ, linkType, id string) any {
		return map[string]any{"nodeType": typ, "data": map[string]any{"target": link(linkType, id)}, "content": []any{}}
	}
	post := func(id, date string, fields map[string]any) []byte {
		fields["slug"], fields["publishDate"] = id, date
		return entry(id, "blogPost", fields)
	}
	err := s.Put(
		entry("ada", "author", map[string]any{"name": "Ada", "avatar": link("Asset", "face")}),
		entry("bob", "author", map[string]any{"name": "Bob"}),
		post("p1", "2024-01-01", map[string]any{"author": link("Entry", "ada"), "hero": link("Asset", "h1")}),
		post("p2", "2024-02-01", map[string]any{"author": link("Entry", "ada"), "hero": link("Asset", "h1"),
			"related": []any{link("Entry", "p1")}}),
		post("p3", "2024-03-01", map[string]any{"author": link("Entry", "bob"),
			"body": body(node("entry-hyperlink", "Entry", "p1"), node("embedded-asset-block", "Asset", "h1"))}),
		post("p4", "2024-04-01", map[string]any{"author": link("Entry", "ada"),
			"related": []any{link("Entry", "p2"), link("Entry", "p3")},
			"body":    body(node("embedded-entry-inline", "Entry", "p1"), node("embedded-entry-block", "Entry", "gone"))}),
		post("p5", "2024-05-01", map[string]any{"author": link("Entry", "bob"), "self": link("Entry", "p5")}),
		entry("page", "page", map[string]any{"featured": link("Entry", "p1"), "image": link("Asset", "h1")}),
		asset("h1"), asset("face"),
	)
	if err != nil {
		t.Fatal(err)
	}
	return s, "/spaces/l/environments/master/"
}

func TestLinksTo(t *testing.T) {
	s, base := linkSpace(t)
	ts := start(t, s)
	for _, tc := range []struct {
		query string
		want  []string
		total int // 0: len(want)
	}{
		// A Link field, an array of links, rich text (entry-hyperlink,
		// embedded-entry-inline), from any content type.
		{"links_to_entry=p1", []string{"p2", "p3", "p4", "page"}, 0},
		{"links_to_entry=ada", []string{"p1", "p2", "p4"}, 0},
		{"links_to_entry=p5", []string{"p5"}, 0},                     // a self-link counts
		{"links_to_entry=gone", []string{"p4"}, 0},                   // an unpublished target too
		{"links_to_entry=nobody", []string{}, 0},                     // nothing links it
		{"links_to_entry=face", []string{}, 0},                       // an asset's id, asked as an entry
		{"links_to_asset=face", []string{"ada"}, 0},                  // ... and as the asset
		{"links_to_asset=h1", []string{"p1", "p2", "p3", "page"}, 0}, // rich text embedded-asset-block
		{"links_to_asset=p1", []string{}, 0},
		// Combined with content types, filters, order and paging.
		{"links_to_entry=p1&content_type=blogPost", []string{"p2", "p3", "p4"}, 0},
		{"links_to_entry=p1&sys.contentType.sys.id[in]=page,author", []string{"page"}, 0},
		{"links_to_entry=p1&content_type=blogPost&fields.publishDate[gte]=2024-03-01", []string{"p3", "p4"}, 0},
		{"links_to_entry=p1&content_type=blogPost&order=-fields.publishDate", []string{"p4", "p3", "p2"}, 0},
		{"links_to_entry=p1&order=-sys.id&limit=2", []string{"page", "p4"}, 4},
		{"links_to_entry=p1&order=-sys.id&limit=2&skip=2", []string{"p3", "p2"}, 4},
		{"links_to_entry=p1&order=-sys.id&limit=2&skip=4", []string{}, 4},
		{"links_to_entry=p1&limit=0", []string{}, 4},
		{"links_to_entry=p1&sys.id[nin]=p2,p3", []string{"p4", "page"}, 0},
		// Both parameters: an entry must link to both targets.
		{"links_to_entry=ada&links_to_asset=h1", []string{"p1", "p2"}, 0},
		{"links_to_entry=p1&links_to_asset=h1", []string{"p2", "p3", "page"}, 0},
	} {
		c := getCollection(t, ts, base+"entries?"+tc.query)
		total := tc.total
		if total == 0 {
			total = len(tc.want)
		}
		if got := ids(t, c.Items); !slices.Equal(got, tc.want) || c.Total != total {
			t.Errorf("%s: %v (total %d), want %v (total %d)", tc.query, got, c.Total, tc.want, total)
		}
	}
}

func TestLinksToIncludes(t *testing.T) {
	s, base := linkSpace(t)
	ts := start(t, s)
	for _, tc := range []struct {
		query          string
		entries, asset []string
		errors         int
	}{
		{"links_to_entry=p3&include=0", nil, nil, 0},
		// p4 links p2, p3 (related), ada (author), p1 and the missing "gone" (body).
		{"links_to_entry=p3", []string{"ada", "p1", "p2", "p3"}, nil, 1},
		{"links_to_entry=p3&include=2", []string{"ada", "bob", "p1", "p2", "p3"}, []string{"face", "h1"}, 1},
		// Items are never repeated in includes: p2 and p3 both link p1.
		{"links_to_entry=p1&content_type=blogPost&include=1", []string{"ada", "bob", "p1"}, []string{"h1"}, 1},
		// The page of two decides what is included, not the whole match.
		{"links_to_entry=p1&content_type=blogPost&limit=1", []string{"ada", "p1"}, []string{"h1"}, 0},
		{"links_to_entry=p1&content_type=blogPost&limit=1&skip=1", []string{"bob", "p1"}, []string{"h1"}, 0},
	} {
		c := getCollection(t, ts, base+"entries?"+tc.query)
		gotE, gotA := ids(t, c.Includes["Entry"]), ids(t, c.Includes["Asset"])
		if !slices.Equal(gotE, nonNil(tc.entries)) || !slices.Equal(gotA, nonNil(tc.asset)) || len(c.Errors) != tc.errors {
			t.Errorf("%s: includes %v %v, %d errors; want %v %v, %d", tc.query, gotE, gotA, len(c.Errors), tc.entries, tc.asset, tc.errors)
		}
	}

	// locale and select apply as on any collection.
	r := get(t, ts, base+"entries?links_to_asset=face&locale=de-DE&select=sys.id,sys.locale")
	if want := `"items":[{"sys":{"id":"ada","locale":"de-DE"}}]`; !strings.Contains(string(r.body), want) {
		t.Errorf("locale and select: %s, want %s", r.body, want)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func TestLinksToRefused(t *testing.T) {
	s, base := linkSpace(t)
	ts := start(t, s)
	for _, q := range []string{
		"entries?links_to_entry=",
		"entries?links_to_entry=p1,p2",
		"entries?links_to_entry=p1&links_to_entry=p2",
		"entries?links_to_asset=",
		"assets?links_to_entry=p1",
		"assets?links_to_asset=h1",
		"entries?links_to_entry=p1&content_type=blogPost&order=fields.nope&sys.contentType.sys.id=author",
	} {
		e := wantError(t, q, get(t, ts, base+q), http.StatusBadRequest, "InvalidQuery")
		if strings.Contains(q, "links_to_entry=p1") && !strings.Contains(q, "order") && !strings.Contains(e.Message, "links_to_entry") {
			t.Errorf("%s: the message does not name the parameter: %q", q, e.Message)
		}
	}
}
