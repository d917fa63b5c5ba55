package localapi

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
)

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
