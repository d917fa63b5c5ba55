package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
)

// oddSlugs are posts (id → slug) whose slugs folio serves, each at its
// path in both forms, and then those it cannot serve.
var oddSlugs = [][2]string{
	{"nested", "2024/hello-world"}, {"deep", "2024/11/30/deep"}, {"unicode", "café-ünïcode"},
	{"space", "with space"}, {"query", "what?page=2"}, {"hash", "hash#tag"}, {"percent", "100%25real"},
	{"plus", "a+b"}, {"upper", "Case"}, {"lower", "case"}, {"dots", "..."}, {"ctrl", "tab\there"},
	{"dot", "."}, {"dotdot", ".."}, {"climb", "a/../b"}, {"double", "a//b"}, {"lead", "/lead"},
	{"trail", "trail/"}, {"none", ""}, {"first", "dup"}, {"second", "dup"},
}

// unservedSlugs are the ids of oddSlugs that no route serves.
var unservedSlugs = map[string]bool{"dot": true, "dotdot": true, "climb": true, "double": true, "lead": true,
	"trail": true, "none": true, "second": true}

// storeWithSlugs is a store holding a CV and a blog of posts with those
// (id, slug) pairs.
func storeWithSlugs(t *testing.T, posts [][2]string) *cache.Store {
	t.Helper()
	store := &cache.Store{}
	snapshotFor(t, store, "cv", 0)
	var raw []json.RawMessage
	for _, p := range posts {
		raw = append(raw, rawEntry(p[0], "blogPost", fmt.Sprintf(`{"slug":%q,"title":%q}`, p[1], "Post "+p[0])))
	}
	blog, err := contentful.NewCollection(raw)
	if err != nil {
		t.Fatal(err)
	}
	bp, _, err := cache.BuildBlog(context.Background(), blog, nil, cache.BlogOptions{SlugField: "slug", PageSize: 100,
		Render: contentful.RenderOptions{SummaryType: "blogPost", SummaryFields: []string{"title", "slug"}}})
	if err != nil {
		t.Fatal(err)
	}
	store.Put(bp)
	return store
}

// /status names every listed post that no route serves, with the reason,
// so an editor's slug that cannot be a URL is seen at build time.
func TestStatusNamesUnaddressablePosts(t *testing.T) {
	h := newTestRouter(storeWithSlugs(t, oddSlugs))
	w := do(h, "GET", "/status")
	var doc struct {
		Collections map[string]struct{ Unaddressable []cache.Unaddressable }
	}
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &doc) != nil {
		t.Fatalf("/status: %d %s", w.Code, w.Body.String())
	}
	got := doc.Collections["blog"].Unaddressable
	if len(got) != len(unservedSlugs) {
		t.Fatalf("unaddressable %+v, want %d", got, len(unservedSlugs))
	}
	for _, u := range got {
		if !unservedSlugs[u.ID] || u.Reason == "" {
			t.Errorf("%+v", u)
		}
		if u.ID == "second" && !strings.Contains(u.Reason, "first") {
			t.Errorf("a duplicate must name the post served there: %+v", u)
		}
	}
	if strings.Contains(w.Body.String(), `"cv":{`) && strings.Contains(w.Body.String(), `"unaddressable":null`) {
		t.Error("a collection with nothing unaddressable leaves the field out")
	}
}

// The post list and the post routes agree: every post /blog lists is
// served at its slug, in both forms a frontend builds (each '/' kept, or
// the slug escaped whole, '/' as %2F), unless /status names it. Before,
// /blog listed 2024/hello-world while both its paths were 404.
func TestListedSlugsAreServedInBothForms(t *testing.T) {
	s := newSite(t, storeWithSlugs(t, oddSlugs))
	var page struct {
		Items []struct {
			ID     string
			Fields struct{ Slug string }
		}
	}
	if a := s.do("GET", "/blog", nil); a.code != 200 || json.Unmarshal(a.body, &page) != nil || len(page.Items) != len(oddSlugs) {
		t.Fatalf("/blog: %d %.200s", a.code, a.body)
	}
	for _, it := range page.Items {
		if it.Fields.Slug == "" {
			continue
		}
		segments := strings.Split(it.Fields.Slug, "/")
		for i, seg := range segments {
			segments[i] = url.PathEscape(seg)
		}
		for _, path := range []string{"/blog/" + strings.Join(segments, "/"), "/blog/" + url.PathEscape(it.Fields.Slug)} {
			a := s.do("GET", path, nil)
			var post struct{ ID string }
			json.Unmarshal(a.body, &post)
			switch {
			case it.ID == "second":
				if a.code != 200 || post.ID != "first" {
					t.Errorf("%s: %d post %q: the first post in order holds a duplicate slug", path, a.code, post.ID)
				}
			case unservedSlugs[it.ID] && (a.code != 404 || a.jsonError(t, path) != "post_not_found"):
				t.Errorf("%s (post %s, not served): %d %s", path, it.ID, a.code, a.body)
			case !unservedSlugs[it.ID] && (a.code != 200 || post.ID != it.ID):
				t.Errorf("%s: %d post %q, want post %s", path, a.code, post.ID, it.ID)
			}
		}
	}
	for _, path := range []string{"/blog/2024/hello-world", "/blog/2024%2Fhello-world", "/blog/2024%2fhello-world"} {
		if a := s.do("GET", path, nil, "Accept-Encoding", "gzip"); a.code != 200 {
			t.Errorf("%s: %d", path, a.code)
		}
	}
	// Case matters in a path (RFC 3986 §6.2.2.1): Case and case are two posts.
	if a, b := s.do("GET", "/blog/Case", nil), s.do("GET", "/blog/case", nil); a.code != 200 || b.code != 200 || bytes.Equal(a.body, b.body) {
		t.Errorf("Case and case: %d %d", a.code, b.code)
	}
}

// A post's path off by a trailing or doubled slash or a dot segment is a
// 404 naming the post, as /cv/ names /cv (it was a bare post_not_found);
// one that cleans to no post stays post_not_found.
func TestSlugPathOffBySlashNamesThePost(t *testing.T) {
	s := newSite(t, storeWithSlugs(t, oddSlugs))
	for path, want := range map[string]string{
		"/blog/2024/hello-world/":    `did you mean \"/blog/2024/hello-world\"?`,
		"/blog/2024//hello-world":    `did you mean \"/blog/2024/hello-world\"?`,
		"/blog/2024/./hello-world":   `did you mean \"/blog/2024/hello-world\"?`,
		"/blog/x/../case":            `did you mean \"/blog/case\"?`,
		"/blog/case%2F":              `did you mean \"/blog/case\"?`,
		"/blog/nothing/":             "post_not_found",
		"/blog/a//b":                 "post_not_found",
		"/blog/2024/hello-world/../": "post_not_found",
	} {
		a := s.do("GET", path, nil)
		if a.code != 404 || !strings.Contains(string(a.body), want) {
			t.Errorf("%s: %d %s, want 404 with %s", path, a.code, a.body, want)
		}
	}
}
