package redisstate

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/internal/redistest"
)

var day = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// post is a post's JSON, long enough to be compressed.
func post(slug string, rev int) []byte {
	return fmt.Appendf(nil, `{"slug":%q,"rev":%d,"body":%q}`, slug, rev, strings.Repeat(slug+" words ", 600))
}

// blog is a part of n posts, post-0's at revision rev; post-1 and post-2
// carry the same bytes under different dates. Each post's entry is among
// its entities, packed as a build packs them.
func blog(n, rev int, modified time.Time) *cache.Part {
	p := &cache.Part{Collection: cache.Blog, Posts: map[string]*cache.Resource{}, Entities: map[contentful.Ref]contentful.Entity{}}
	for i := range n {
		slug := fmt.Sprintf("post-%d", i)
		r := 0
		if i == 0 {
			r = rev
		}
		body := post(slug, r)
		if i == 2 {
			body = post("post-1", 0)
		}
		p.Posts[slug] = cache.NewResource(body, modified.Add(time.Duration(i)*time.Hour))
		p.Entities[contentful.EntryRef(slug)] = contentful.Entity{Revision: r + 1, CreatedAt: "2026-01-01T00:00:00Z", Raw: body}.Pack()
	}
	p.Pages = []*cache.Resource{cache.NewResource(fmt.Appendf(nil, `{"page":1,"rev":%d}`, rev), modified), cache.NewResource([]byte(`{"page":2}`), day)}
	p.Root = p.Pages[0]
	return p
}

// counters returns Redis's SET calls and input bytes since the last CONFIG
// RESETSTAT.
func counters(t *testing.T, rds *redistest.Server) (sets, in int) {
	t.Helper()
	for line := range strings.SplitSeq(rds.Do(t, "INFO", "all"), "\n") {
		line = strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(line, "cmdstat_set:calls="); ok {
			sets, _ = strconv.Atoi(v[:strings.IndexByte(v, ',')])
		}
		if v, ok := strings.CutPrefix(line, "total_net_input_bytes:"); ok {
			in, _ = strconv.Atoi(v)
		}
	}
	return sets, in
}

func samePart(t *testing.T, got, want *cache.Part) {
	t.Helper()
	sameContent(t, got, want, true)
}

// sameContent is samePart, dates included or not: a Store that installed
// an earlier part first moves the dates of changed routes forward.
func sameContent(t *testing.T, got, want *cache.Part, dates bool) {
	t.Helper()
	check := func(route string, g, w *cache.Resource) {
		if g == nil || w == nil {
			t.Errorf("%s: got %v, want %v", route, g, w)
			return
		}
		for _, e := range []cache.Encoding{cache.Identity, cache.Gzip, cache.Brotli} {
			gv, wv := g.Variant(e), w.Variant(e)
			if !bytes.Equal(gv.Body, wv.Body) || gv.ETag[0] != wv.ETag[0] {
				t.Errorf("%s: encoding %d differs", route, e)
			}
		}
		if dates && (g.LastModified()[0] != w.LastModified()[0] || !g.ModTime().Equal(w.ModTime())) {
			t.Errorf("%s: Last-Modified %s, want %s", route, g.LastModified()[0], w.LastModified()[0])
		}
	}
	if len(got.Pages) != len(want.Pages) || len(got.Posts) != len(want.Posts) || got.Root != got.Pages[0] {
		t.Fatalf("shape: %d pages, %d posts", len(got.Pages), len(got.Posts))
	}
	for i := range want.Pages {
		check(fmt.Sprintf("page %d", i+1), got.Pages[i], want.Pages[i])
	}
	if len(got.Entities) != len(want.Entities) {
		t.Errorf("%d entities, want %d", len(got.Entities), len(want.Entities))
	}
	for ref, w := range want.Entities {
		g := got.Entities[ref]
		gj, gerr := g.JSON()
		wj, _ := w.JSON()
		if gerr != nil || !bytes.Equal(gj, wj) || g.Revision != w.Revision || g.CreatedAt != w.CreatedAt || g.Hash() != w.Hash() {
			t.Errorf("entity %v: got revision %d %s (%v), want %d %s", ref, g.Revision, g.CreatedAt, gerr, w.Revision, w.CreatedAt)
		}
	}
	for slug, w := range want.Posts {
		check(slug, got.Posts[slug], w)
	}
}

// TestOneChangeWritesOneBlob: a change to one post stores that post's
// blobs (its resource, its entity, the list page it is on) and the small
// meta, not the part; the blobs the change replaced expire with the
// superseded part, the others never do.
func TestOneChangeWritesOneBlob(t *testing.T) {
	ctx := context.Background()
	rds := redistest.Start(t)
	s := newStateLeasing(t, rds, time.Minute)
	if !leads(t, s) {
		t.Fatal("could not take the lease")
	}
	p1 := blog(200, 1, day)
	whole, _ := p1.MarshalBinary()
	leads(t, s) // before the counters: the lease is not what is counted
	rds.Do(t, "CONFIG", "RESETSTAT")
	if err := s.SavePart(ctx, p1); err != nil {
		t.Fatal(err)
	}
	sets1, in1 := counters(t, rds)
	meta1, blobs1, _ := p1.Stored()
	for ref, e := range p1.Entities {
		if bytes.Contains(meta1, e.Raw) {
			t.Fatalf("the meta carries the JSON of %s", ref)
		}
	}
	if want := len(blobs1) + 1; sets1 != want || want != len(p1.Resources())+len(p1.Entities)-1+1 {
		t.Errorf("first save: %d SETs, want %d (every blob and the meta)", sets1, want)
	}

	p2 := blog(200, 2, day)
	leads(t, s)
	rds.Do(t, "CONFIG", "RESETSTAT")
	if err := s.SavePart(ctx, p2); err != nil {
		t.Fatal(err)
	}
	sets2, in2 := counters(t, rds)
	// The changed post, its entity, the changed first page, and the meta.
	if sets2 != 4 {
		t.Errorf("one-post change: %d SETs, want 4", sets2)
	}
	if in2 > len(whole)/10 {
		t.Errorf("one-post change sent %d bytes to Redis (first save %d, whole part %d)", in2, in1, len(whole))
	}
	t.Logf("whole part %d bytes; first save sent %d bytes; one-post change sent %d bytes (%d SETs)", len(whole), in1, in2, sets2)
	_, blobs2, _ := p2.Stored()

	dropped := []string{p1.Posts["post-0"].Hash(), p1.Root.Hash()}
	for name := range blobs1 {
		if _, still := blobs2[name]; !still && strings.HasPrefix(name, "entity:") {
			dropped = append(dropped, name)
		}
	}
	if len(dropped) != 3 {
		t.Errorf("dropped blobs %v, want the post, the page and the entity", dropped)
	}
	for _, h := range dropped {
		if ttl, _ := strconv.Atoi(rds.Do(t, "TTL", s.keys.res("blog", h))); ttl <= 0 || ttl > int(partTTL.Seconds()) {
			t.Errorf("a dropped blob's TTL is %d, want it to expire with the superseded part", ttl)
		}
	}
	for h := range blobs2 {
		if ttl := rds.Do(t, "TTL", s.keys.res("blog", h)); ttl != "(integer) -1" && ttl != "-1" {
			t.Errorf("a current blob's TTL is %s, want none", ttl)
		}
	}
	// Back to the first content: the dropped blobs are current again.
	leads(t, s)
	if err := s.SavePart(ctx, blog(200, 1, day)); err != nil {
		t.Fatal(err)
	}
	if ttl := rds.Do(t, "TTL", s.keys.res("blog", p1.Posts["post-0"].Hash())); ttl != "(integer) -1" && ttl != "-1" {
		t.Errorf("a blob named again keeps its TTL %s", ttl)
	}
}

// TestFollowerLoadsOnlyMissingBlobs: a follower reuses the resources it
// serves, reads the others, and serves the leader's bytes with each
// route's Last-Modified, even where the same bytes carry another date.
func TestFollowerLoadsOnlyMissingBlobs(t *testing.T) {
	ctx := context.Background()
	rds := redistest.Start(t)
	leader, follower := newStateLeasing(t, rds, time.Minute), newStateLeasing(t, rds, time.Minute)
	if !leads(t, leader) {
		t.Fatal("could not take the lease")
	}
	p1 := blog(50, 1, day)
	if err := leader.SavePart(ctx, p1); err != nil {
		t.Fatal(err)
	}
	// The parts as installed (a Store would move their dates forward).
	var mu sync.Mutex
	var installed *cache.Part
	fctx, cancel := context.WithCancel(ctx)
	done, synced := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		follower.Follow(fctx, 50*time.Millisecond, func(p *cache.Part) { mu.Lock(); installed = p; mu.Unlock() }, synced)
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-synced
	served := func() *cache.Part {
		mu.Lock()
		defer mu.Unlock()
		return installed
	}
	waitFor(t, "the follower to serve the first part", func() bool { return served() != nil })
	f1 := served()
	samePart(t, f1, p1)

	// post-0 changes; post-5 keeps its bytes under a later date.
	p2 := blog(50, 2, day)
	p2.Posts["post-5"] = cache.NewResource(post("post-5", 0), day.Add(100*time.Hour))
	leads(t, leader)
	rds.Do(t, "CONFIG", "RESETSTAT")
	if err := leader.SavePart(ctx, p2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to serve the second part", func() bool { return served() != f1 })
	f2 := served()
	samePart(t, f2, p2)
	for _, slug := range []string{"post-1", "post-5", "post-9"} {
		if &f2.Posts[slug].Variant(cache.Gzip).Body[0] != &f1.Posts[slug].Variant(cache.Gzip).Body[0] {
			t.Errorf("%s: the follower read bytes it held", slug)
		}
	}
	if &f2.Posts["post-0"].Variant(cache.Gzip).Body[0] == &f1.Posts["post-0"].Variant(cache.Gzip).Body[0] {
		t.Error("post-0: the follower kept the old bytes")
	}
	if got := rds.Do(t, "INFO", "commandstats"); !strings.Contains(got, "cmdstat_mget:calls=1,") {
		t.Errorf("want one MGET of the missing blobs: %s", got)
	}
}

// TestBlobGoneIsNotInstalled: a part whose blob went is not installed (the
// follower keeps what it serves); the next save writes the blob again,
// after a FLUSHALL too.
func TestBlobGoneIsNotInstalled(t *testing.T) {
	ctx := context.Background()
	rds, leader, follower, p1, version := savedBlog(t)
	rds.Do(t, "DEL", leader.keys.res("blog", p1.Posts["post-7"].Hash()))
	if _, err := follower.LoadPart(ctx, cache.Blog, version); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Fatalf("a part without a blob loaded: %v", err)
	}
	store := follow(t, follower)
	time.Sleep(200 * time.Millisecond) // a few pointer checks
	if snap := store.Load(); snap != nil && snap.Blog != nil {
		t.Fatal("a part without a blob was installed")
	}

	p2 := blog(20, 2, day)
	if err := leader.SavePart(ctx, p2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to serve the part saved next", func() bool {
		return store.Load() != nil && store.Load().Blog != nil && store.Load().Blog.Root.ETag() == p2.Root.ETag()
	})
	// The follower may have read the first pointer just as the save wrote
	// the missing blob back, and installed that part first: the Store then
	// dates the routes that changed forward.
	sameContent(t, store.Load().Blog, p2, false)

	rds.Do(t, "FLUSHALL")
	if l := leader.holdLease(ctx); !l.held {
		t.Fatal("the leader could not take the lease again")
	}
	if err := leader.SavePart(ctx, p2); err != nil {
		t.Fatalf("save after FLUSHALL: %v", err)
	}
	fresh := newStateLeasing(t, rds, time.Minute)
	v, _ := fresh.Versions(ctx)
	got, err := fresh.LoadPart(ctx, cache.Blog, v[cache.Blog])
	if err != nil {
		t.Fatalf("load after FLUSHALL: %v", err)
	}
	samePart(t, got, p2)
}

// TestLoadOfManyBatchesOutlastsOneCommandBound: a load of a large part is
// many MGETs, each bounded by OpTimeout, not all of them together (a
// 10,000-post part, 20,000 blobs read and checked, could not load within
// the 2 s one command gets, and a replica never served it).
func TestLoadOfManyBatchesOutlastsOneCommandBound(t *testing.T) {
	ctx := context.Background()
	rds, _, _, p, version := savedBlog(t)
	follower, err := New(Options{URL: rds.URL, LeaseTTL: time.Minute, OpTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { follower.Close() })
	oldBatch := loadBatch
	loadBatch, batchHook = 5, func() { time.Sleep(150 * time.Millisecond) } // 8 batches: 1.2 s in all
	t.Cleanup(func() { loadBatch, batchHook = oldBatch, nil })
	got, err := follower.LoadPart(ctx, cache.Blog, version)
	if err != nil {
		t.Fatalf("a load of 8 batches, each within the bound: %v", err)
	}
	samePart(t, got, p)
}
