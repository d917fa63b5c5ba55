package spacegen_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/contentful/localapi/spacegen"
)

const token = "t"

// serve puts the space into a local Delivery API.
func serve(t *testing.T, s *spacegen.Space) (*localapi.Server, *httptest.Server) {
	t.Helper()
	api := localapi.New("s", "master", token)
	if err := api.Put(s.Entities()...); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(api)
	t.Cleanup(ts.Close)
	return api, ts
}

type collection struct {
	Total    int                          `json:"total"`
	Items    []entity                     `json:"items"`
	Includes map[string][]json.RawMessage `json:"includes"`
	Errors   []json.RawMessage            `json:"errors"`
}

type entity struct {
	Sys struct {
		ID        string `json:"id"`
		Revision  int    `json:"revision"`
		UpdatedAt string `json:"updatedAt"`
	} `json:"sys"`
	Fields map[string]json.RawMessage `json:"fields"`
}

func get(t *testing.T, ts *httptest.Server, query string) collection {
	t.Helper()
	req, _ := http.NewRequest("GET", ts.URL+"/spaces/s/environments/master/entries?"+query, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var c collection
	if err := json.NewDecoder(res.Body).Decode(&c); err != nil || res.StatusCode != 200 {
		t.Fatalf("%s: %d %v", query, res.StatusCode, err)
	}
	return c
}

func TestDeterministic(t *testing.T) {
	a := spacegen.Generate(spacegen.Options{Posts: 40, Seed: 7})
	b := spacegen.Generate(spacegen.Options{Posts: 40, Seed: 7})
	if !bytes.Equal(a.Document(), b.Document()) {
		t.Error("the same options gave different spaces")
	}
	if c := spacegen.Generate(spacegen.Options{Posts: 40, Seed: 8}); bytes.Equal(a.Document(), c.Document()) {
		t.Error("another seed gave the same space")
	}
	// Post i does not depend on how many posts follow it, except for its
	// publish date (the newest post is always published on the same day).
	longer := spacegen.Generate(spacegen.Options{Posts: 60, Seed: 7})
	var x, y entity
	json.Unmarshal(a.Entries[a.FirstPost+10], &x)
	json.Unmarshal(longer.Entries[longer.FirstPost+10], &y)
	if !bytes.Equal(x.Fields["body"], y.Fields["body"]) || a.Slug(10) != longer.Slug(10) {
		t.Error("post 10 depends on the number of posts")
	}
}

func TestShape(t *testing.T) {
	const n = 300
	s := spacegen.Generate(spacegen.Options{Posts: n})
	_, ts := serve(t, s)

	for typ, want := range map[string]int{"profile": 1, "experience": 4, "education": 2, "skill": 8, "project": 4, "author": spacegen.Authors, "blogPost": n} {
		if c := get(t, ts, "limit=0&content_type="+typ); c.Total != want {
			t.Errorf("%s: %d entries, want %d", typ, c.Total, want)
		}
	}
	// Every link resolves: nothing is reported notResolvable, ten levels deep.
	for skip := 0; skip < n; skip += 100 {
		if c := get(t, ts, fmt.Sprintf("content_type=blogPost&include=10&limit=100&skip=%d", skip)); len(c.Errors) > 0 {
			t.Errorf("skip %d: unresolvable links %s", skip, c.Errors)
		}
	}
	c := get(t, ts, "sys.contentType.sys.id[in]=profile,project&include=1")
	if len(c.Errors) > 0 || len(c.Includes["Asset"]) != 3 {
		t.Errorf("CV: errors %s, %d assets included", c.Errors, len(c.Includes["Asset"]))
	}

	slugs := map[string]bool{}
	var links, bodyBytes int
	for i := range n {
		var p entity
		if err := json.Unmarshal(s.Entries[s.FirstPost+i], &p); err != nil {
			t.Fatal(err)
		}
		if p.Sys.ID != spacegen.PostID(i) {
			t.Fatalf("entry %d is %s", i, p.Sys.ID)
		}
		var slug string
		json.Unmarshal(p.Fields["slug"], &slug)
		if slug != s.Slug(i) || slugs[slug] {
			t.Errorf("post %d: slug %q (Slug %q), or repeated", i, slug, s.Slug(i))
		}
		slugs[slug] = true
		if sz := len(p.Fields["body"]); sz < spacegen.DefaultBodyBytes || sz > spacegen.DefaultBodyBytes+700 {
			t.Errorf("post %d: body of %d bytes, want about %d", i, sz, spacegen.DefaultBodyBytes)
		}
		bodyBytes += len(p.Fields["body"])
		// Posts link earlier posts only, 2-3 related ones.
		var related []struct{ Sys struct{ ID string } }
		json.Unmarshal(p.Fields["related"], &related)
		if want := min(i, 2); len(related) < want || len(related) > 3 {
			t.Errorf("post %d: %d related posts", i, len(related))
		}
		for _, id := range postLinks(p) {
			if id >= spacegen.PostID(i) {
				t.Errorf("post %d links %s, not an earlier post", i, id)
			}
			links++
		}
	}
	if perPost := float64(links) / n; perPost < 5 || perPost > 15 {
		t.Errorf("%.1f links to posts per post, want some 8-10", perPost)
	}
	// Rich text links count as incoming links.
	inLinks := get(t, ts, "links_to_entry="+spacegen.PostID(n-20)+"&limit=0").Total
	if inLinks == 0 {
		t.Errorf("nothing links post %d", n-20)
	}
	for _, want := range []string{`"entry-hyperlink"`, `"embedded-entry-inline"`, `"embedded-asset-block"`, `"heading-2"`, `"hyperlink"`, `"unordered-list"`} {
		if !bytes.Contains(s.Document(), []byte(want)) {
			t.Errorf("no %s node anywhere", want)
		}
	}
}

// postLinks returns the ids of the posts p links, in any field.
func postLinks(p entity) []string {
	var out []string
	for _, raw := range p.Fields {
		for _, part := range strings.Split(string(raw), `"id":"`)[1:] {
			if id, _, _ := strings.Cut(part, `"`); strings.HasPrefix(id, "post-") {
				out = append(out, id)
			}
		}
	}
	return out
}

func TestOptions(t *testing.T) {
	s := spacegen.Generate(spacegen.Options{Posts: 50, BodyBytes: 2000, NoPostLinks: true})
	_, ts := serve(t, s)
	for i := range 50 {
		var p entity
		json.Unmarshal(s.Entries[s.FirstPost+i], &p)
		if ls := postLinks(p); len(ls) > 0 {
			t.Errorf("post %d links posts %v with NoPostLinks", i, ls)
		}
		if sz := len(p.Fields["body"]); sz < 2000 || sz > 2700 {
			t.Errorf("post %d: body of %d bytes, want about 2000", i, sz)
		}
	}
	if c := get(t, ts, "links_to_entry="+spacegen.PostID(3)); c.Total != 0 {
		t.Errorf("%d entries link a post with NoPostLinks", c.Total)
	}
	if none := spacegen.Generate(spacegen.Options{}); none.Posts() != 0 || len(none.Entries) != none.FirstPost {
		t.Errorf("no posts: %d entries, first post at %d", len(none.Entries), none.FirstPost)
	}
}

func TestEdit(t *testing.T) {
	s := spacegen.Generate(spacegen.Options{Posts: 20})
	api, ts := serve(t, s)
	var before entity
	json.Unmarshal(s.Entries[s.FirstPost+7], &before)
	var last string
	for n := 1; n <= 3; n++ {
		e := s.Edit(7)
		if e.ID != spacegen.PostID(7) || e.Slug != s.Slug(7) || e.ContentType != "blogPost" || e.Revision != before.Sys.Revision+n ||
			s.Revision(7) != e.Revision || e.UpdatedAt <= last || e.UpdatedAt <= before.Sys.UpdatedAt {
			t.Fatalf("edit %d: %+v (before: revision %d, updatedAt %s)", n, e, before.Sys.Revision, before.Sys.UpdatedAt)
		}
		last = e.UpdatedAt
		if err := api.Put(e.Entry); err != nil {
			t.Fatal(err)
		}
		c := get(t, ts, "sys.id="+e.ID)
		var excerpt string
		json.Unmarshal(c.Items[0].Fields["excerpt"], &excerpt)
		if c.Items[0].Sys.Revision != e.Revision || !strings.Contains(excerpt, fmt.Sprintf("revision %d", e.Revision)) ||
			!reflect.DeepEqual(decode(t, c.Items[0].Fields["body"]), decode(t, before.Fields["body"])) {
			t.Errorf("edit %d served as revision %d, excerpt %q", n, c.Items[0].Sys.Revision, excerpt)
		}
	}
	// Every other post's updatedAt is earlier than an edit's.
	for i := range 20 {
		var p entity
		json.Unmarshal(s.Entries[s.FirstPost+i], &p)
		if i != 7 && p.Sys.UpdatedAt >= last {
			t.Errorf("post %d updated at %s, after the edit (%s)", i, p.Sys.UpdatedAt, last)
		}
	}
	// Entries and Document follow the edits.
	reloaded := localapi.New("s", "master", token)
	if err := reloaded.Load(s.Document()); err != nil {
		t.Fatal(err)
	}
	var now entity
	json.Unmarshal(s.Entries[s.FirstPost+7], &now)
	if now.Sys.Revision != s.Revision(7) || now.Sys.UpdatedAt != last {
		t.Errorf("Entries hold revision %d at %s, want %d at %s", now.Sys.Revision, now.Sys.UpdatedAt, s.Revision(7), last)
	}
}

func decode(t *testing.T, raw []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}
