package refresh_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/refresh"
)

func TestAffected(t *testing.T) {
	store := &cache.Store{}
	// Parts as built: only what they reach matters here.
	cv := &cache.Part{Collection: cache.CV, Root: cache.NewResource([]byte(`{}`), time.Now()),
		Refs: map[contentful.Ref]int{"Entry:me": 1, "Entry:featured-post": 2, "Asset:portrait": 1}}
	blog := &cache.Part{Collection: cache.Blog, Root: cache.NewResource([]byte(`{}`), time.Now()),
		Refs: map[contentful.Ref]int{"Entry:featured-post": 2, "Entry:plain-post": 1, "Entry:author": 1, "Asset:portrait": 1, "Asset:hero": 3}}
	store.Put(cv)
	store.Put(blog)
	both := []cache.Collection{cache.Blog, cache.CV}
	for _, c := range []struct {
		name string
		ch   contentful.Change
		want []cache.Collection
	}{
		{"a post no CV entry links to", contentful.Change{Kind: "Entry", ID: "plain-post", ContentType: "blogPost"}, []cache.Collection{cache.Blog}},
		{"a post the profile links to", contentful.Change{Kind: "Entry", ID: "featured-post", ContentType: "blogPost"}, both},
		{"a new post", contentful.Change{Kind: "Entry", ID: "brand-new", ContentType: "blogPost"}, []cache.Collection{cache.Blog}},
		{"a CV entry", contentful.Change{Kind: "Entry", ID: "expert", ContentType: "skill"}, []cache.Collection{cache.CV}},
		{"an author linked from posts", contentful.Change{Kind: "Entry", ID: "author", ContentType: "author"}, []cache.Collection{cache.Blog}},
		{"an unpublish without content type", contentful.Change{Kind: "Entry", ID: "plain-post"}, []cache.Collection{cache.Blog}},
		{"an asset used by both", contentful.Change{Kind: "Asset", ID: "portrait"}, both},
		{"an asset used by the blog", contentful.Change{Kind: "Asset", ID: "hero"}, []cache.Collection{cache.Blog}},
		{"an asset nobody uses", contentful.Change{Kind: "Asset", ID: "unused"}, nil},
		{"an entry of another type nobody links", contentful.Change{Kind: "Entry", ID: "tag", ContentType: "tag"}, nil},
		{"a content type", contentful.Change{Kind: "ContentType", ID: "blogPost"}, both},
	} {
		if got := refresh.Affected(c.ch, cols, store.Load(), nil); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	// Before the first load, links are unknown: assume the worst.
	if got := refresh.Affected(contentful.Change{Kind: "Asset", ID: "x"}, cols, nil, nil); !slices.Equal(got, both) {
		t.Errorf("before the first load: %v", got)
	}
	// A busy collection is always added, even when others match: its fetch
	// under way may come to link the entity (a post republished while the
	// CV, whose profile links it, is being fetched).
	busyCV := func(c cache.Collection) bool { return c == cache.CV }
	if got := refresh.Affected(contentful.Change{Kind: "Entry", ID: "plain-post", ContentType: "blogPost"}, cols, store.Load(), busyCV); !slices.Equal(got, both) {
		t.Errorf("with the CV busy: %v, want %v", got, both)
	}
}

func TestSafetyRefreshCoalesces(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("p", 1, "One"))
	q := refresh.NewMemoryQueue(10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.engine.RunSafetyRefresh(ctx, q, 15*time.Minute)
	f.awaitWait()
	f.clock.Advance(15 * time.Minute)
	ev := <-q.Events()
	if !ev.Full || ev.Topic != "safety-refresh" {
		t.Fatalf("queued %+v", ev)
	}
	f.events <- ev
	if r := f.final(); r.ID != ev.ID || r.Outcome != refresh.Done {
		t.Fatalf("safety refresh: %+v", r)
	}
	if blogFetches(f) != 1 || cvFetches(f) != 1 {
		t.Fatalf("fetches: blog %d, cv %d", blogFetches(f), cvFetches(f))
	}
}
