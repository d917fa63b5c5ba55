package refresh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/refresh"
)

func postLinking(id string, rev int, title, hero string, related ...string) json.RawMessage {
	rel := ""
	for i, r := range related {
		if i > 0 {
			rel += ","
		}
		rel += fmt.Sprintf(`{"sys":{"type":"Link","linkType":"Entry","id":%q}}`, r)
	}
	heroLink := "null"
	if hero != "" {
		heroLink = fmt.Sprintf(`{"sys":{"type":"Link","linkType":"Asset","id":%q}}`, hero)
	}
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Entry","id":%q,"revision":%d,"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-0%dT00:00:00Z",
		"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"blogPost"}}},
		"fields":{"slug":%q,"title":%q,"publishDate":"2025-01-%02d","hero":%s,"related":[%s]}}`, id, rev, rev%10, id, title, rev, heroLink, rel))
}

func assetAt(id string, rev int, title string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Asset","id":%q,"revision":%d,"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-0%dT00:00:00Z"},
		"fields":{"title":%q,"file":{"url":"//images/%s.png","contentType":"image/png"}}}`, id, rev, rev%10, title, id))
}

// requestsSince returns the Delivery API requests after n.
func requestsSince(api *localapi.Server, n int) []localapi.Request {
	return api.Requests()[n:]
}

func wholeFetches(rs []localapi.Request) int {
	n := 0
	for _, r := range rs {
		if r.Query.Get("select") == "" && r.Query.Get("sys.id[in]") == "" && r.Query.Get("links_to_entry") == "" &&
			r.Query.Get("links_to_asset") == "" && r.Query.Get("content_type") == "blogPost" {
			n++
		}
	}
	return n
}

// TestWebhookFetchesWhatChanged: one post edited, one asset replaced, one
// post unpublished and one published on a blog of 30 posts. Each webhook
// costs the blog's index and the changed entities (by id, or what links to
// them), never the whole collection; and what is served is byte for byte
// what a whole fetch builds.
func TestWebhookFetchesWhatChanged(t *testing.T) {
	var posts []json.RawMessage
	for i := range 30 {
		var related []string
		if i > 0 {
			related = []string{fmt.Sprintf("p%02d", i-1)}
		}
		posts = append(posts, postLinking(fmt.Sprintf("p%02d", i), 1, fmt.Sprintf("Post %d", i), "hero", related...))
	}
	f := newEngine(t, refresh.EngineOptions{}, append(posts, assetAt("hero", 1, "Hero"))...)
	steps := []struct {
		name   string
		change func()
		event  refresh.Event
	}{
		{"a post edited", func() { f.api.Put(postLinking("p07", 2, "Post 7, edited", "hero", "p06")) },
			refresh.Event{Action: contentful.Publish, Entity: "Entry:p07", ContentType: "blogPost", Revision: 2}},
		{"the shared hero replaced", func() { f.api.Put(assetAt("hero", 2, "Hero, again")) },
			refresh.Event{Action: contentful.Publish, Entity: "Asset:hero", Revision: 2}},
		{"a linked post unpublished", func() { f.api.Delete("p03") },
			refresh.Event{Action: contentful.Unpublish, Entity: "Entry:p03", ContentType: "blogPost", Revision: 1}},
		{"a new post", func() { f.api.Put(postLinking("p99", 1, "New", "", "p07")) },
			refresh.Event{Action: contentful.Publish, Entity: "Entry:p99", ContentType: "blogPost", Revision: 1}},
	}
	for _, s := range steps {
		before := len(f.api.Requests())
		s.change()
		ev := s.event
		ev.ID, ev.Topic, ev.Collections, ev.ReceivedAt = refresh.NewEventID(), "ContentManagement.Entry."+string(ev.Action), []cache.Collection{cache.Blog}, f.clock.Now()
		f.events <- ev
		if r := f.finalOf(ev.ID); r.Outcome != refresh.Done {
			t.Fatalf("%s: %+v", s.name, r)
		}
		rs := requestsSince(f.api, before)
		if n := wholeFetches(rs); n != 0 {
			t.Errorf("%s: %d whole blog fetches; want the index and the changed entities only", s.name, n)
		}
		if len(rs) > 4 {
			t.Errorf("%s: %d Delivery API requests", s.name, len(rs))
		}
		// What a whole fetch builds, from scratch.
		fresh := &cache.Store{}
		client, _ := contentful.New(contentful.Options{BaseURL: f.srvURL, Space: "s", Token: token})
		if _, err := refresh.NewLoader(client, fresh, cols, nil).Refresh(context.Background(), cache.Blog); err != nil {
			t.Fatal(err)
		}
		want, got := fresh.Load().Blog, f.store.Load().Blog
		if string(want.Root.Body()) != string(got.Root.Body()) {
			t.Fatalf("%s: /blog differs from a whole build:\n%s\n%s", s.name, got.Root.Body(), want.Root.Body())
		}
		if len(want.Posts) != len(got.Posts) {
			t.Fatalf("%s: %d posts, a whole build has %d", s.name, len(got.Posts), len(want.Posts))
		}
		for slug, r := range want.Posts {
			if g := got.Posts[slug]; g == nil || string(g.Body()) != string(r.Body()) {
				t.Fatalf("%s: /blog/%s differs from a whole build", s.name, slug)
			}
		}
	}
	if p := f.post("p04"); !strings.Contains(p, `"related":[null]`) {
		t.Fatalf("a link to the unpublished post must be null: %s", p)
	}
}

func rawEntry(id, typ string, rev int, fields string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Entry","id":%q,"revision":%d,"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:00Z",
		"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":%q}}},"fields":%s}`, id, rev, typ, fields))
}

func entryLink(id string) string {
	return fmt.Sprintf(`{"sys":{"type":"Link","linkType":"Entry","id":%q}}`, id)
}

// sameAsWholeBuild fails unless f's blog is byte for byte what a whole
// fetch under cols builds.
func sameAsWholeBuild(t *testing.T, f *engineFixture, c refresh.Collections) {
	t.Helper()
	fresh := &cache.Store{}
	client, _ := contentful.New(contentful.Options{BaseURL: f.srvURL, Space: "s", Token: token})
	if _, err := refresh.NewLoader(client, fresh, c, nil).Refresh(context.Background(), cache.Blog); err != nil {
		t.Fatal(err)
	}
	want, got := fresh.Load().Blog, f.store.Load().Blog
	for slug, r := range want.Posts {
		if g := got.Posts[slug]; g == nil || string(g.Body()) != string(r.Body()) {
			t.Fatalf("/blog/%s differs from a whole build:\n%s\n%s", slug, g.Body(), r.Body())
		}
	}
}

// TestIncrementalFetchReachesDeeperLinks: a post comes to link, directly,
// an entity served until then only deep down (its links were stubs, never
// fetched). The incremental fetch cannot know what is missing until the
// render reaches it: a link left unresolved to an entity it never held
// makes it fetch the whole collection.
func TestIncrementalFetchReachesDeeperLinks(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{},
		rawEntry("p", "blogPost", 1, `{"slug":"p","author":`+entryLink("ada")+`}`),
		rawEntry("ada", "author", 1, `{"name":"Ada","employer":`+entryLink("acme")+`}`),
		rawEntry("acme", "company", 1, `{"name":"Acme","city":`+entryLink("city")+`}`),
		rawEntry("city", "city", 1, `{"name":"Metro","country":`+entryLink("land")+`}`),
		rawEntry("land", "country", 1, `{"name":"Land"}`),
	)
	if err := f.api.Put(rawEntry("q", "blogPost", 1, `{"slug":"q","sponsor":`+entryLink("acme")+`}`)); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("q", 1, cache.Blog).ID); r.Outcome != refresh.Done {
		t.Fatalf("publish: %+v", r)
	}
	sameAsWholeBuild(t, f, cols)
}

// TestIncrementalFetchAfterLinkDepthChanged: a part built under another
// link depth (a restart with another FOLIO_LINK_DEPTH over a stored part)
// holds what that depth reached; the next change fetches the whole blog.
func TestIncrementalFetchAfterLinkDepthChanged(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{},
		rawEntry("p", "blogPost", 1, `{"slug":"p","author":`+entryLink("ada")+`}`),
		rawEntry("ada", "author", 1, `{"name":"Ada","employer":`+entryLink("acme")+`}`),
		rawEntry("acme", "company", 1, `{"name":"Acme","city":`+entryLink("city")+`}`),
		rawEntry("city", "city", 1, `{"name":"Metro"}`),
	)
	deeper := cols
	deeper.LinkDepth = 4
	client, _ := contentful.New(contentful.Options{BaseURL: f.srvURL, Space: "s", Token: token})
	loader := refresh.NewLoader(client, f.store, deeper, nil)
	finals := make(chan refresh.Record, 10)
	eng := refresh.NewEngine(loader, refresh.EngineOptions{OnFinal: func(r refresh.Record) { finals <- r }}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan refresh.Event, 10)
	go eng.Run(ctx, events)
	if err := f.api.Put(rawEntry("p", "blogPost", 2, `{"slug":"p","title":"edited","author":`+entryLink("ada")+`}`)); err != nil {
		t.Fatal(err)
	}
	events <- refresh.Event{ID: refresh.NewEventID(), Action: contentful.Publish, Entity: contentful.EntryRef("p"), ContentType: "blogPost",
		Revision: 2, Collections: []cache.Collection{cache.Blog}, ReceivedAt: time.Now()}
	if r := <-finals; r.Outcome != refresh.Done {
		t.Fatalf("publish: %+v", r)
	}
	sameAsWholeBuild(t, f, deeper)
}
