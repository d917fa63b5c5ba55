package cache

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// List pages keep their order when a batch is encoded in the middle of
// them, and the posts of each batch come out under their ids.
func TestEncoderKeepsPagesInOrderAcrossBatches(t *testing.T) {
	e := &encoder{ctx: t.Context(), out: map[string]*Resource{}}
	post := bytes.Repeat([]byte("a"), encodeBatch-500)
	if err := e.add("post", ResourceInput{Body: post}); err != nil {
		t.Fatal(err)
	}
	var pages [][]byte
	for i := range 12 {
		pages = append(pages, fmt.Appendf(nil, `{"page":%d,"items":[%s]}`, i+1, strings.Repeat(`"x",`, 40)+`"x"`))
		if err := e.add("", ResourceInput{Body: pages[i]}); err != nil {
			t.Fatal(err)
		}
		if i == 2 && len(e.pages) == 0 {
			t.Fatal("no batch was encoded among the pages")
		}
	}
	if err := e.add("late", ResourceInput{Body: []byte(`{"late":true}`)}); err != nil {
		t.Fatal(err)
	}
	if err := e.flush(); err != nil {
		t.Fatal(err)
	}
	if len(e.pages) != len(pages) {
		t.Fatalf("%d pages, want %d", len(e.pages), len(pages))
	}
	for i, r := range e.pages {
		if !bytes.Equal(r.Body(), pages[i]) {
			t.Errorf("page %d holds %.30s", i+1, r.Body())
		}
	}
	if !bytes.Equal(e.out["post"].Body(), post) || string(e.out["late"].Body()) != `{"late":true}` {
		t.Error("a post is not under its id")
	}
}

// A blog built on the part before it serves what a build from nothing
// serves, through random edits: slugs that collide, go, come back, change
// hands or become unreachable, posts added, removed, reordered and
// relinked. Every slug served has a resource (never a placeholder).
func TestBuildBlogOnPreviousMatchesFreshBuild(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	slugs := []string{"a", "b", "c", "d", "", "..", "x/../y", "2024/e", "f"}
	type post struct{ slug, title, link string }
	posts := map[string]*post{}
	var order []string
	opts := blogOpts
	opts.PageSize = 3
	var prev *Part
	for step := range 80 {
		switch n := rng.IntN(10); {
		case n < 3 || len(order) < 3: // a new post
			id := fmt.Sprintf("p%d", step)
			posts[id] = &post{slug: slugs[rng.IntN(len(slugs))], title: "t"}
			order = slices.Insert(order, rng.IntN(len(order)+1), id)
		case n < 4: // one goes
			i := rng.IntN(len(order))
			delete(posts, order[i])
			order = slices.Delete(order, i, i+1)
		case n < 6: // a slug changes
			posts[order[rng.IntN(len(order))]].slug = slugs[rng.IntN(len(slugs))]
		case n < 7: // two posts swap places
			i, j := rng.IntN(len(order)), rng.IntN(len(order))
			order[i], order[j] = order[j], order[i]
		case n < 8: // a title changes
			posts[order[rng.IntN(len(order))]].title = fmt.Sprintf("t%d %s", step, strings.Repeat("w ", rng.IntN(300)))
		default: // a post links another, or stops
			p := posts[order[rng.IntN(len(order))]]
			p.link = order[rng.IntN(len(order))]
			if rng.IntN(3) == 0 {
				p.link = ""
			}
		}
		for _, p := range posts {
			if _, ok := posts[p.link]; !ok {
				p.link = ""
			}
		}
		var entries []rawEntry
		for _, id := range order {
			p := posts[id]
			link := ""
			if p.link != "" {
				link = fmt.Sprintf(`,"related":{"sys":{"type":"Link","linkType":"Entry","id":%q}}`, p.link)
			}
			entries = append(entries, rawEntry{id, fmt.Sprintf(`{"sys":{"type":"Entry","id":%q,"revision":1,
				"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:00Z","contentType":{"sys":{"type":"Link",
				"linkType":"ContentType","id":"blogPost"}}},"fields":{"slug":%q,"title":%q%s}}`, id, p.slug, p.title, link)})
		}
		got, _, err := BuildBlog(t.Context(), blogOf(t, entries...), prev, opts)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		want, _, err := BuildBlog(t.Context(), blogOf(t, entries...), nil, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(slices.Sorted(maps.Keys(got.Posts)), slices.Sorted(maps.Keys(want.Posts))) {
			t.Fatalf("step %d: serves %q, want %q", step, slices.Sorted(maps.Keys(got.Posts)), slices.Sorted(maps.Keys(want.Posts)))
		}
		for slug, r := range got.Posts {
			if r == nil {
				t.Fatalf("step %d: /blog/%s has no resource", step, slug)
			}
			if !bytes.Equal(r.Body(), want.Posts[slug].Body()) {
				t.Fatalf("step %d: /blog/%s serves %.80s, want %.80s", step, slug, r.Body(), want.Posts[slug].Body())
			}
			var e struct{ ID string }
			if json.Unmarshal(r.Body(), &e) != nil || posts[e.ID] == nil || posts[e.ID].slug != slug {
				t.Fatalf("step %d: /blog/%s serves post %s", step, slug, e.ID)
			}
		}
		if len(got.Pages) != len(want.Pages) {
			t.Fatalf("step %d: %d pages, want %d", step, len(got.Pages), len(want.Pages))
		}
		for i := range got.Pages {
			if !bytes.Equal(got.Pages[i].Body(), want.Pages[i].Body()) {
				t.Fatalf("step %d: page %d differs", step, i+1)
			}
		}
		if fmt.Sprint(got.Unaddressable()) != fmt.Sprint(want.Unaddressable()) {
			t.Fatalf("step %d: unaddressable %v, want %v", step, got.Unaddressable(), want.Unaddressable())
		}
		prev = got
	}
}
