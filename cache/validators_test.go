package cache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/folio-cms/folio/contentful"
)

var blogOpts = BlogOptions{SlugField: "slug", Render: contentful.RenderOptions{SummaryType: "blogPost", SummaryFields: []string{"title", "slug"}}}

func blogOf(t *testing.T, entries ...rawEntry) *contentful.Collection {
	t.Helper()
	c := &contentful.Collection{Entities: map[contentful.Ref]contentful.Entity{}}
	for _, e := range entries {
		c.Items = append(c.Items, e.id)
		c.Entities[contentful.EntryRef(e.id)] = contentful.Entity{Revision: 1, Raw: []byte(e.raw)}
	}
	return c
}

// rawEntry is a blog post as the Delivery API sends it.
type rawEntry struct{ id, raw string }

func postEntry(id, title string) rawEntry {
	return postDated(id, title, "2025-01-01T00:00:00Z")
}

func postDated(id, title, updatedAt string) rawEntry {
	return rawEntry{id, fmt.Sprintf(`{"sys":{"type":"Entry","id":%q,"revision":1,"createdAt":"2025-01-01T00:00:00Z","updatedAt":%q,
		"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"blogPost"}}},"fields":{"slug":%q,"title":%q}}`, id, updatedAt, id, title)}
}

// install builds c on top of what store serves and swaps it in, as the
// refresh side does.
func install(t *testing.T, store *Store, c *contentful.Collection) *Part {
	t.Helper()
	snap, err := store.Update(func(cur *Snapshot) (*Part, error) {
		p, _, err := BuildBlog(context.Background(), c, cur.Part(Blog), blogOpts)
		return p, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return snap.Blog
}

// TestLastModifiedNeverGoesBack covers each route of a collection: the list
// when its newest entry goes, a post when an entry it links goes (its latest
// updatedAt inside moves back), and a post that goes and comes back with
// other bytes. In each case the bytes change and Last-Modified must move
// forward, or a client revalidating by date keeps what it has.
func TestLastModifiedNeverGoesBack(t *testing.T) {
	store := &Store{}
	first := install(t, store, blogOf(t, postEntry("a", "A"), postEntry("b", "B")))
	if first.Root.ModTime().Before(time.Now().Add(-2 * time.Second)) {
		t.Fatalf("a process's first build dates its resources no earlier than the build (%v): an earlier process may have given out later dates", first.Root.ModTime())
	}

	// The list loses b: bytes change, Last-Modified moves on.
	second := install(t, store, blogOf(t, postEntry("a", "A")))
	if second.Root.ModTime().Before(first.Root.ModTime()) {
		t.Fatalf("list: Last-Modified %v after %v", second.Root.ModTime(), first.Root.ModTime())
	}

	// Post a's bytes change while its content dates go back (a linked
	// entry was unpublished).
	older := postDated("a", "A without its link", "2020-01-01T00:00:00Z")
	third := install(t, store, blogOf(t, older))
	if third.Posts["a"].ModTime().Before(second.Posts["a"].ModTime()) {
		t.Fatalf("post: Last-Modified %v after %v", third.Posts["a"].ModTime(), second.Posts["a"].ModTime())
	}

	// b comes back with other bytes: its date must pass every date given out.
	fourth := install(t, store, blogOf(t, older, postEntry("b", "B again")))
	if fourth.Posts["b"].ModTime().Before(first.Posts["b"].ModTime()) || fourth.Posts["b"].ModTime().Before(third.Floor) {
		t.Fatalf("returning post: Last-Modified %v, first served %v, floor %v", fourth.Posts["b"].ModTime(), first.Posts["b"].ModTime(), third.Floor)
	}

	// Unchanged bytes keep their resources: no recompression, same dates.
	same := install(t, store, blogOf(t, older, postEntry("b", "B again")))
	if same.Root != fourth.Root || same.Posts["a"] != fourth.Posts["a"] || same.Posts["b"] != fourth.Posts["b"] {
		t.Fatal("unchanged bytes must keep their resources")
	}
}

// TestLastModifiedNeverAhead: an editor publishing faster than once a
// second must not push Last-Modified into the future (RFC 9110 §8.8.2.1),
// or a restarted process, whose first build is dated now, would be behind
// it. Content dated ahead of this clock is dated now.
func TestLastModifiedNeverAhead(t *testing.T) {
	store := &Store{}
	for i := range 15 {
		p := install(t, store, blogOf(t, postDated("a", fmt.Sprintf("A %d", i), "2020-01-01T00:00:00Z")))
		if now := time.Now(); p.Posts["a"].ModTime().After(now) || p.Root.ModTime().After(now) {
			t.Fatalf("update %d: Last-Modified %v is after now %v", i, p.Posts["a"].ModTime(), now)
		}
	}
	p := install(t, store, blogOf(t, postDated("a", "from the future", "2999-01-01T00:00:00Z")))
	if p.Posts["a"].ModTime().After(time.Now()) {
		t.Fatalf("a future updatedAt is served as Last-Modified %v", p.Posts["a"].ModTime())
	}
}

// TestPutMovesValidatorsForward: a part another process built (a Redis
// follower's install) is dated forward from what this process served, so
// its own clients never see a date go back.
func TestPutMovesValidatorsForward(t *testing.T) {
	store := &Store{}
	served := install(t, store, blogOf(t, postEntry("a", "A")))
	leaders, _, err := BuildBlog(context.Background(), blogOf(t, postEntry("a", "A edited")), nil, blogOpts)
	if err != nil {
		t.Fatal(err)
	}
	leaders.Posts["a"] = leaders.Posts["a"].withModTime(served.Posts["a"].ModTime().Add(-time.Hour))
	got := store.Put(leaders).Blog
	if got.Posts["a"].ModTime().Before(served.Posts["a"].ModTime()) {
		t.Fatalf("Put kept an earlier date for changed bytes: %v, served %v", got.Posts["a"].ModTime(), served.Posts["a"].ModTime())
	}
	if got.Posts["a"].ETag() != leaders.Posts["a"].ETag() {
		t.Fatal("Put changed the bytes")
	}
}

// TestBuildStopsOnCancel: a shutdown does not wait for a large build.
func TestBuildStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := BuildBlog(ctx, blogOf(t, postEntry("a", "A")), nil, blogOpts); err == nil {
		t.Fatal("BuildBlog ran to the end after its context was cancelled")
	}
	if _, err := BuildCV(ctx, []string{"profile"}, blogOf(t), nil, contentful.RenderOptions{}); err == nil {
		t.Fatal("BuildCV ran to the end after its context was cancelled")
	}
}
