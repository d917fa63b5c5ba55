package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/folio-cms/folio/contentful"
)

func TestSlugProblem(t *testing.T) {
	for slug, want := range map[string]string{
		"hello-world":             "",
		"2024/hello-world":        "",
		"2024/11/hello":           "",
		"café":                    "",
		"with space":              "",
		"what?":                   "",
		"hash#tag":                "",
		"100%":                    "",
		"a%2Fb":                   "",
		"...":                     "",
		".hidden":                 "",
		"Case":                    "",
		"line\nbreak":             "",
		"":                        "no slug",
		".":                       "'.' segment",
		"..":                      "'..' segment",
		"a/../b":                  "'..' segment",
		"a/./b":                   "'.' segment",
		"a//b":                    "empty segment",
		"/lead":                   "empty segment",
		"trail/":                  "empty segment",
		strings.Repeat("x", 7994): "",
		strings.Repeat("x", 7995): "too long",
		strings.Repeat("é", 1400): "too long", // 6 bytes each, percent-encoded
	} {
		got := SlugProblem(slug)
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("SlugProblem(%.20q) = %q, want %q", slug, got, want)
		}
	}
}

// Every post /blog lists with a slug is served at that slug, unless
// Unaddressable names it with the reason; the log (skipped) says the same.
func TestBuildBlogServesEveryReachableSlug(t *testing.T) {
	slugs := map[string]string{ // post id → slug
		"nested": "2024/hello-world", "unicode": "café", "space": "with space", "query": "what?",
		"hash": "hash#tag", "percent": "100%", "upper": "Case", "lower": "case",
		"dot": ".", "dotdot": "..", "climb": "a/../b", "double": "a//b", "lead": "/lead", "trail": "trail/",
		"none": "", "first": "dup", "second": "dup",
	}
	var entries []rawEntry
	for _, id := range []string{"nested", "unicode", "space", "query", "hash", "percent", "upper", "lower",
		"dot", "dotdot", "climb", "double", "lead", "trail", "none", "first", "second"} {
		entries = append(entries, rawEntry{id, fmt.Sprintf(`{"sys":{"type":"Entry","id":%q,"revision":1,
			"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:00Z","contentType":{"sys":{"type":"Link",
			"linkType":"ContentType","id":"blogPost"}}},"fields":{"slug":%q,"title":"t"}}`, id, slugs[id])})
	}
	p, skipped, err := BuildBlog(context.Background(), blogOf(t, entries...), nil, blogOpts)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]string{"2024/hello-world": "nested", "café": "unicode", "with space": "space",
		"what?": "query", "hash#tag": "hash", "100%": "percent", "Case": "upper", "case": "lower", "dup": "first"}
	if len(p.Posts) != len(served) {
		t.Errorf("%d posts served, want %d", len(p.Posts), len(served))
	}
	for slug, id := range served {
		r := p.Posts[slug]
		var post struct{ ID string }
		if r == nil || json.Unmarshal(r.Body(), &post) != nil || post.ID != id {
			t.Errorf("slug %q: want post %s", slug, id)
		}
	}
	want := map[string]string{"dot": "'.' segment", "dotdot": "'..' segment", "climb": "'..' segment",
		"double": "empty segment", "lead": "empty segment", "trail": "empty segment", "none": "no slug",
		"second": "duplicate slug: post first"}
	got := p.Unaddressable()
	if len(got) != len(want) || len(skipped) != len(want) {
		t.Errorf("unaddressable %v, skipped %q; want %d of each", got, skipped, len(want))
	}
	for _, u := range got {
		if !strings.Contains(u.Reason, want[u.ID]) || u.Slug != slugs[u.ID] {
			t.Errorf("%s: %+v, want the reason %q", u.ID, u, want[u.ID])
		}
	}
	// The list holds every post, served or not: a page shows them all.
	var page struct{ Total int }
	if err := json.Unmarshal(p.Pages[0].Body(), &page); err != nil || page.Total != len(slugs) {
		t.Errorf("the list holds %d posts, want %d (%v)", page.Total, len(slugs), err)
	}
	// A rebuild that reuses every post decides the same.
	again, _, err := BuildBlog(context.Background(), blogOf(t, entries...), p, blogOpts)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Posts) != len(served) || len(again.Unaddressable()) != len(want) {
		t.Errorf("rebuilt: %d posts, %d unaddressable", len(again.Posts), len(again.Unaddressable()))
	}
}

// The CV's entries have no slugs and no /blog/{slug}: none is unaddressable
// (/status listed every CV entry as a post with "no slug").
func TestCVHasNoUnaddressable(t *testing.T) {
	p, err := BuildCV(context.Background(), []string{"blogPost"}, blogOf(t, postEntry("a", "A"), postEntry("b", "B")), nil, contentful.RenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) == 0 {
		t.Fatal("the CV lists no item: the test proves nothing")
	}
	if got := p.Unaddressable(); got != nil {
		t.Errorf("CV unaddressable = %v, want none", got)
	}
}
