package contentful

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestWith renders a fetched collection again with one entity swapped for
// another version of itself and another taken out: what the revision rule
// does with a lagging CDN answer.
func TestWith(t *testing.T) {
	api, c, _ := newAPI(t)
	put(t, api,
		entry("p", "blogPost", 2, `{"slug":"p","title":"P two","author":`+link("Entry", "ada")+`}`),
		entry("q", "blogPost", 1, `{"slug":"q","title":"Q one"}`),
		entry("ada", "author", 3, `{"name":"Ada three"}`),
	)
	fetched, err := c.Fetch(context.Background(), Query{ContentTypes: []string{"blogPost"}, Order: "sys.id"})
	if err != nil {
		t.Fatal(err)
	}
	if e := fetched.Entities["Entry:ada"]; e.Revision != 3 || e.CreatedAt != "2025-01-01T00:00:03Z" || !json.Valid(e.Raw) {
		t.Fatalf("the raw entity of an include: %+v", e)
	}
	older := Entity{Revision: 2, CreatedAt: "2025-01-01T00:00:02Z",
		Raw: entry("ada", "author", 2, `{"name":"Ada two"}`)}
	got, err := fetched.With(map[Ref]Entity{"Entry:ada": older}, map[Ref]bool{"Entry:q": true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Entries) != 1 || got.Entries[0].ID != "p" {
		t.Fatalf("entries after dropping q: %d", len(got.Entries))
	}
	body, _ := json.Marshal(got.Entries[0])
	if !strings.Contains(string(body), `"name":"Ada two"`) || got.Refs["Entry:ada"] != 2 || got.Entities["Entry:ada"].Revision != 2 {
		t.Fatalf("the kept version is not rendered: %s, refs %v", body, got.Refs)
	}
	if _, ok := got.Entities["Entry:q"]; ok {
		t.Fatal("a dropped entity is still among the entities")
	}
	// The receiver is not changed.
	if b, _ := json.Marshal(fetched.Entries[0]); !strings.Contains(string(b), `"name":"Ada three"`) || len(fetched.Entries) != 2 {
		t.Fatalf("With changed its receiver: %s", b)
	}
	// A dropped link target renders as null.
	gone, err := fetched.With(nil, map[Ref]bool{"Entry:ada": true})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(gone.Entries[0]); !strings.Contains(string(b), `"author":null`) || gone.Refs["Entry:ada"] != 0 {
		t.Fatalf("a dropped link target: %s", b)
	}
	if _, err := fetched.With(map[Ref]Entity{"Entry:ada": {Raw: []byte(`{"sys":{"type":"Entry","id":"other","contentType":{"sys":{"id":"author"}}},"fields":{}}`)}}, nil); err == nil {
		t.Fatal("a replacement for another entity was accepted")
	}
}
