package contentful

import (
	"encoding/json"
	"strings"
	"testing"
)

func mustCollection(t *testing.T, items []json.RawMessage, includes ...json.RawMessage) *Collection {
	t.Helper()
	c, err := NewCollection(items, includes...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var blogRender = RenderOptions{SummaryType: "blogPost", SummaryFields: []string{"title", "slug", "hero", "tags"}}

// TestRenderRules: a linked post is a summary (not the whole post with its
// own links); an entry is in full at most once per response; links deeper
// than the depth are stubs; the same content renders to the same bytes.
func TestRenderRules(t *testing.T) {
	c := mustCollection(t,
		[]json.RawMessage{
			entry("p", "blogPost", 1, `{"slug":"p","title":"P","body":"long","hero":`+link("Asset", "pic")+`,
				"author":`+link("Entry", "ada")+`,"editor":`+link("Entry", "ada")+`,
				"related":[`+link("Entry", "q")+`],"tags":[`+link("Entry", "tag")+`]}`),
			entry("q", "blogPost", 2, `{"slug":"q","title":"Q","body":"long too","related":[`+link("Entry", "p")+`],
				"author":`+link("Entry", "ada")+`}`),
		},
		entry("ada", "author", 3, `{"name":"Ada","employer":`+link("Entry", "acme")+`}`),
		entry("acme", "company", 4, `{"name":"Acme","parent":`+link("Entry", "holding")+`}`),
		entry("holding", "company", 5, `{"name":"Holding"}`),
		entry("tag", "tag", 6, `{"name":"Go"}`),
		json.RawMessage(`{"sys":{"type":"Asset","id":"pic","revision":7},"fields":{"title":"Pic","file":{"url":"//x/pic.jpg"}}}`),
	)
	r := NewRenderer(c.Entities, blogRender)
	g := r.Begin()
	p, err := g.Full("p")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(p)
	got := string(b)
	for _, want := range []string{
		// The related post is a summary: its summary fields, no body, no links of its own.
		`"related":[{"id":"q","contentType":"blogPost","createdAt":"2025-01-01T00:00:02Z","updatedAt":"2025-02-01T00:00:00Z","revision":2,"fields":{"slug":"q","title":"Q"}}]`,
		// The author in full once (first in field order), a stub the second time.
		`"author":{"id":"ada","contentType":"author"`,
		`"editor":{"id":"ada","contentType":"author"}`,
		// Depth 2: the author's employer in full, its parent a stub.
		`"employer":{"id":"acme","contentType":"company"`,
		`"parent":{"id":"holding","contentType":"company"}`,
		`"hero":{"id":"pic","title":"Pic","description":"","url":"https://x/pic.jpg"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %s\n%s", want, got)
		}
	}
	if strings.Count(got, `"name":"Ada"`) != 1 {
		t.Errorf("the author is in full more than once:\n%s", got)
	}
	for ref, rev := range map[Ref]int{"Entry:p": 1, "Entry:q": 2, "Entry:ada": 3, "Entry:acme": 4, "Entry:holding": 5, "Asset:pic": 7} {
		if g.Refs[ref] != rev {
			t.Errorf("Refs[%s] = %d, want %d (stubs and summaries are reached too)", ref, g.Refs[ref], rev)
		}
	}

	// A summary: its fields only; linked entries are stubs, assets resolved.
	s, err := r.Begin().Summary("p")
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := json.Marshal(s)
	if want := `"fields":{"hero":{"id":"pic"`; !strings.Contains(string(sb), want) || strings.Contains(string(sb), "body") ||
		!strings.Contains(string(sb), `"tags":[{"id":"tag","contentType":"tag"}]`) {
		t.Errorf("summary: %s", sb)
	}

	// Same content, same bytes, whatever the map order of a run.
	for range 20 {
		again, _ := NewRenderer(c.Entities, blogRender).Begin().Full("p")
		if b2, _ := json.Marshal(again); string(b2) != got {
			t.Fatalf("two renders differ:\n%s\n%s", got, b2)
		}
	}

	// Depth 1: the author in full, the employer a stub.
	d1, _ := NewRenderer(c.Entities, RenderOptions{Depth: 1, SummaryType: "blogPost"}).Begin().Full("p")
	if b, _ := json.Marshal(d1); !strings.Contains(string(b), `"employer":{"id":"acme","contentType":"company"}`) {
		t.Errorf("depth 1: %s", b)
	}
}

// TestRenderMissingAndMalformed: a top-level entry the entities lack is
// nil; a malformed linked entity fails the render.
func TestRenderMissingAndMalformed(t *testing.T) {
	c := mustCollection(t, []json.RawMessage{entry("p", "blogPost", 1, `{"x":`+link("Entry", "bad")+`}`)})
	c.Entities["Entry:bad"] = Entity{Raw: []byte(`{"sys":{"type":"Entry"}}`)}
	r := NewRenderer(c.Entities, RenderOptions{})
	if e, err := r.Begin().Full("nope"); e != nil || err != nil {
		t.Fatalf("missing: %v %v", e, err)
	}
	if _, err := r.Begin().Full("p"); err == nil {
		t.Fatal("a malformed linked entity rendered")
	}
}

// TestPackedEntitiesRender: a fetch keeps its entities deflated; they
// render, link and hash as the plain ones do.
func TestPackedEntitiesRender(t *testing.T) {
	c := mustCollection(t, []json.RawMessage{entry("p", "blogPost", 1, `{"slug":"p","author":`+link("Entry", "ada")+`}`)},
		entry("ada", "author", 2, `{"name":"Ada"}`))
	packed, plainEnts := map[Ref]Entity{}, map[Ref]Entity{}
	for ref, fetched := range c.Entities {
		if !fetched.Packed {
			t.Fatalf("%s: a fetch keeps its entities unpacked", ref)
		}
		j, err := fetched.JSON()
		if err != nil {
			t.Fatal(err)
		}
		e := Entity{Revision: fetched.Revision, CreatedAt: fetched.CreatedAt, Raw: j}
		plainEnts[ref] = e
		p := e.Pack()
		if !p.Packed || p.Hash() != e.Hash() || len(p.Raw) == 0 {
			t.Fatalf("%s: packed %+v", ref, p)
		}
		if b, err := p.JSON(); err != nil || string(b) != string(e.Raw) {
			t.Fatalf("%s: unpacked %q, %v", ref, b, err)
		}
		packed[ref] = p
	}
	plain, _ := NewRenderer(plainEnts, RenderOptions{}).Begin().Full("p")
	fromPacked, err := NewRenderer(packed, RenderOptions{}).Begin().Full("p")
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(plain)
	b, _ := json.Marshal(fromPacked)
	if string(a) != string(b) {
		t.Fatalf("packed entities render otherwise:\n%s\n%s", a, b)
	}
	if links, err := packed["Entry:p"].Links(); err != nil || len(links) != 1 || links[0] != "Entry:ada" {
		t.Fatalf("links of a packed entity: %v %v", links, err)
	}
	if _, err := (Entity{Raw: []byte("not deflate"), Packed: true}).JSON(); err == nil {
		t.Fatal("garbage inflated")
	}
}

// TestListedEntriesAreFullOnceAtTheirPlace: on a response that lists
// entries at its top level (the CV), an entry linked from an earlier item
// is a stub there and full at its own place; an entry no item lists is
// full where it is first linked, as before.
func TestListedEntriesAreFullOnceAtTheirPlace(t *testing.T) {
	c := mustCollection(t, []json.RawMessage{
		entry("job", "experience", 1, `{"title":"Engineer","skills":[`+link("Entry", "go")+`],"employer":`+link("Entry", "acme")+`}`),
		entry("go", "skill", 1, `{"name":"Go"}`),
	}, entry("acme", "company", 1, `{"name":"Acme"}`))
	g := NewRenderer(c.Entities, RenderOptions{}).Begin()
	g.Listed(c.Items...)
	job, err := g.Full("job")
	if err != nil {
		t.Fatal(err)
	}
	skill, err := g.Full("go")
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := job.Fields["skills"].([]any)[0].(Stub); !ok || s.ID != "go" {
		t.Errorf("the listed skill linked from the job: %#v, want a stub", job.Fields["skills"])
	}
	if skill.Fields["name"] != "Go" {
		t.Errorf("the skill at its own place: %#v, want it in full", skill.Fields)
	}
	if e, ok := job.Fields["employer"].(*Entry); !ok || e.Fields["name"] != "Acme" {
		t.Errorf("the employer no item lists: %#v, want it in full", job.Fields["employer"])
	}
	if g.Refs[EntryRef("go")] != 1 {
		t.Errorf("refs %v: the job's render does not name the skill", g.Refs)
	}
}
