package refresh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/refresh"
)

// fakeClock moves only when the test says so. After registrations are
// announced on waits, so a test knows the engine is waiting before it
// advances time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []fakeTimer
	waits  chan struct{}
}

type fakeTimer struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), waits: make(chan struct{}, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, fakeTimer{at: c.now.Add(d), ch: ch})
	c.waits <- struct{}{}
	return ch
}

// Advance moves time by d and fires the timers that are due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	keep := c.timers[:0]
	for _, t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
		} else {
			keep = append(keep, t)
		}
	}
	c.timers = keep
}

// gate holds each fetch until the test releases it.
type gate struct {
	inner   refresh.Fetcher
	entered chan struct{}
	release chan struct{}
}

func (g *gate) Fetch(ctx context.Context, q contentful.Query) (*contentful.Collection, error) {
	g.wait()
	return g.inner.Fetch(ctx, q)
}

func (g *gate) wait() {
	if g.entered != nil {
		g.entered <- struct{}{}
		<-g.release
	}
}

// The delta queries: an incremental refresh starts with the index, which
// the gate holds like a whole fetch.
func (g *gate) Index(ctx context.Context, q contentful.Query, stats *contentful.Collection) ([]contentful.IndexEntry, error) {
	g.wait()
	return g.inner.(refresh.DeltaFetcher).Index(ctx, q, stats)
}

func (g *gate) Entries(ctx context.Context, ids []string, into *contentful.Collection) error {
	return g.inner.(refresh.DeltaFetcher).Entries(ctx, ids, into)
}

func (g *gate) LinksTo(ctx context.Context, ref contentful.Ref, into *contentful.Collection) error {
	return g.inner.(refresh.DeltaFetcher).LinksTo(ctx, ref, into)
}

func (g *gate) Fill(ctx context.Context, into *contentful.Collection, have func(contentful.Ref) bool, rounds int) error {
	return g.inner.(refresh.DeltaFetcher).Fill(ctx, into, have, rounds)
}

type engineFixture struct {
	t      *testing.T
	api    *localapi.Server
	srvURL string
	store  *cache.Store
	clock  *fakeClock
	engine *refresh.Engine
	gate   *gate
	finals chan refresh.Record
	events chan refresh.Event
}

func newEngine(t *testing.T, opts refresh.EngineOptions, posts ...json.RawMessage) *engineFixture {
	t.Helper()
	api := localapi.New("s", "master", token)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	client, err := contentful.New(contentful.Options{BaseURL: srv.URL, Space: "s", Token: token,
		Retry: contentful.RetryPolicy{Attempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if err := api.Put(append(posts, profile("Ada"))...); err != nil {
		t.Fatal(err)
	}
	f := &engineFixture{t: t, api: api, srvURL: srv.URL, store: &cache.Store{}, clock: newFakeClock(),
		finals: make(chan refresh.Record, 1000), events: make(chan refresh.Event, 1000)}
	f.gate = &gate{inner: client}
	loader := refresh.NewLoader(f.gate, f.store, cols, nil)
	opts.Clock = f.clock
	opts.OnFinal = func(r refresh.Record) { f.finals <- r }
	f.engine = refresh.NewEngine(loader, opts, nil) // the loader now keeps the engine's clock
	if err := loader.RefreshAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.engine.Run(ctx, f.events); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	api.Reset()
	return f
}

func (f *engineFixture) publish(id string, rev int, cols ...cache.Collection) refresh.Event {
	ev := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Entry.publish", Action: contentful.Publish,
		Entity: contentful.EntryRef(id), ContentType: "blogPost", Revision: rev, Collections: cols, ReceivedAt: f.clock.Now()}
	f.events <- ev
	return ev
}

func (f *engineFixture) unpublish(id string, rev int) refresh.Event {
	ev := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Entry.unpublish", Action: contentful.Unpublish,
		Entity: contentful.EntryRef(id), ContentType: "blogPost", Revision: rev, Collections: []cache.Collection{cache.Blog}, ReceivedAt: f.clock.Now()}
	f.events <- ev
	return ev
}

// final waits for the next finished event.
func (f *engineFixture) final() refresh.Record {
	f.t.Helper()
	select {
	case r := <-f.finals:
		return r
	case <-time.After(10 * time.Second):
		f.t.Fatal("no event finished")
		return refresh.Record{}
	}
}

// finalOf waits for one event's final record, moving the clock on
// whenever the engine waits (polls, backoff, burst spacing).
func (f *engineFixture) finalOf(id string) refresh.Record {
	f.t.Helper()
	for {
		select {
		case r := <-f.finals:
			if r.ID == id {
				return r
			}
		case <-f.clock.waits:
			f.clock.Advance(time.Minute)
		case <-time.After(10 * time.Second):
			f.t.Fatalf("event %s never finished", id)
		}
	}
}

// awaitWait returns once the engine waits on the clock: it has settled
// what it fetched and is polling or backing off.
func (f *engineFixture) awaitWait() {
	f.t.Helper()
	select {
	case <-f.clock.waits:
	case <-time.After(10 * time.Second):
		f.t.Fatal("the engine never waited")
	}
}

// waitThenAdvance waits until the engine waits on the clock, then moves the
// clock past its backoff.
func (f *engineFixture) waitThenAdvance(d time.Duration) {
	f.t.Helper()
	f.awaitWait()
	f.clock.Advance(d)
}

func (f *engineFixture) post(slug string) string {
	p := f.store.Load().Blog.Posts[slug]
	if p == nil {
		return ""
	}
	return string(p.Body())
}

func blogFetches(f *engineFixture) int {
	return f.api.Count(func(r localapi.Request) bool { return r.Query.Get("content_type") == "blogPost" })
}

func cvFetches(f *engineFixture) int {
	return f.api.Count(func(r localapi.Request) bool { return r.Query.Get("sys.contentType.sys.id[in]") != "" })
}

func TestBurstCoalesces(t *testing.T) {
	var posts []json.RawMessage
	for i := range 200 {
		posts = append(posts, post(fmt.Sprintf("p%03d", i), 1, "Post"))
	}
	f := newEngine(t, refresh.EngineOptions{}, posts...)
	for i := range 200 {
		f.publish(fmt.Sprintf("p%03d", i), 1, cache.Blog)
	}
	// The first fetch may take some events, the trailing fetch the rest: it
	// waits out the minimum interval if events arrived during the first.
	done := 0
	for done < 200 {
		select {
		case r := <-f.finals:
			if r.Outcome != refresh.Done {
				t.Fatalf("event %s: %s %s", r.ID, r.Outcome, r.Error)
			}
			done++
		case <-f.clock.waits:
			f.clock.Advance(time.Second)
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of 200 events finished", done)
		}
	}
	if n := blogFetches(f); n > 2 {
		t.Fatalf("200 webhooks caused %d blog fetches, want at most 2", n)
	}
	if n := cvFetches(f); n != 0 {
		t.Fatalf("blog posts caused %d CV fetches", n)
	}
}

func TestEventDuringFetchGetsTrailingFetch(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("first", 1, "First"))
	f.gate.entered, f.gate.release = make(chan struct{}), make(chan struct{})
	a := f.publish("first", 1, cache.Blog)
	<-f.gate.entered // fetch 1 is in flight
	if err := f.api.Put(post("second", 1, "Second")); err != nil {
		t.Fatal(err)
	}
	// Dispatched directly, so it is held before fetch 1 goes on.
	b := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Entry.publish", Action: contentful.Publish,
		Entity: contentful.EntryRef("second"), ContentType: "blogPost", Revision: 1,
		Collections: []cache.Collection{cache.Blog}, ReceivedAt: f.clock.Now()}
	f.engine.Dispatch(b)
	f.gate.release <- struct{}{}
	if r := f.final(); r.ID != a.ID || r.Outcome != refresh.Done {
		t.Fatalf("first final: %+v", r)
	}
	// Fetch 1 saw "second" already, but it started before the event: the
	// event waits for a fetch of its own.
	f.waitThenAdvance(time.Second)
	<-f.gate.entered
	f.gate.release <- struct{}{}
	if r := f.final(); r.ID != b.ID || r.Outcome != refresh.Done {
		t.Fatalf("second final: %+v", r)
	}
	if n := f.engine.Fetches(cache.Blog); n != 2 {
		t.Fatalf("%d fetches, want exactly 2", n)
	}
	if !strings.Contains(f.post("second"), `"title":"Second"`) {
		t.Fatal("the trailing fetch's content is not served")
	}
}

func TestCDNLag(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("lagged", 1, "Old title"))
	before := f.post("lagged")
	if err := f.api.PutLagged(post("lagged", 2, "New title")); err != nil {
		t.Fatal(err)
	}
	ev := f.publish("lagged", 2, cache.Blog)
	f.awaitWait()
	for range 3 { // the API keeps serving revision 1: folio keeps polling
		f.clock.Advance(20 * time.Second)
		f.awaitWait()
		if got := f.post("lagged"); got != before {
			t.Fatalf("content changed during the lag:\n%s", got)
		}
	}
	if r, _ := f.engine.Log().Get(ev.ID); r.Outcome != refresh.Retrying {
		t.Fatalf("outcome during the lag: %s", r.Outcome)
	}
	f.api.ReleaseLag()
	f.clock.Advance(20 * time.Second)
	if r := f.final(); r.ID != ev.ID || r.Outcome != refresh.Done || r.Snapshots["blog"] == "" {
		t.Fatalf("after the lag: %+v", r)
	}
	if !strings.Contains(f.post("lagged"), `"title":"New title"`) {
		t.Fatal("the new revision is not served")
	}

	// Unpublish, lagged likewise. The webhook says the served revision
	// went, even when it names none: the post goes at once.
	f.api.DeleteLagged("lagged")
	ev = f.unpublish("lagged", 0)
	if r := f.final(); r.ID != ev.ID || r.Outcome != refresh.Done {
		t.Fatalf("unpublish: %+v", r)
	}
	if f.post("lagged") != "" {
		t.Fatal("/blog/lagged is still served after unpublish")
	}
}

// TestUnpublishWithRevisionWinsOverALaggingEdge: Contentful's removal
// webhooks carry the revision the entry had; an answer that still holds it
// at that revision is a lagging edge, so the post goes at once.
func TestUnpublishWithRevisionWinsOverALaggingEdge(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("p", 2, "Two"), post("q", 1, "Q"))
	f.api.DeleteLagged("p")
	if r := f.finalOf(f.unpublish("p", 2).ID); r.Outcome != refresh.Done || f.post("p") != "" {
		t.Fatalf("unpublish: %+v, serving %s", r, f.post("p"))
	}
}

func TestLagBeyondTheBoundFails(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: time.Minute}, post("p", 1, "Old"))
	if err := f.api.PutLagged(post("p", 2, "New")); err != nil {
		t.Fatal(err)
	}
	ev := f.publish("p", 2, cache.Blog)
	for {
		select {
		case r := <-f.finals:
			if r.ID != ev.ID || r.Outcome != refresh.Failed || !strings.Contains(r.Error, "revision 2") {
				t.Fatalf("got %+v", r)
			}
			return
		case <-f.clock.waits:
			f.clock.Advance(15 * time.Second)
		case <-time.After(10 * time.Second):
			t.Fatal("the event never failed")
		}
	}
}

func TestOlderRevisionNeverReplacesNewer(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("p", 3, "Three"))
	served := f.post("p")

	// A late webhook for revision 2: revision 3 already satisfies it.
	ev := f.publish("p", 2, cache.Blog)
	if r := f.final(); r.ID != ev.ID || r.Outcome != refresh.Done {
		t.Fatalf("late webhook: %+v", r)
	}
	// A lagging CDN edge answers revision 2: folio keeps revision 3.
	if err := f.api.Put(post("p", 2, "Two")); err != nil {
		t.Fatal(err)
	}
	ev = f.publish("p", 3, cache.Blog) // a redelivery
	f.awaitWait()
	if f.post("p") != served {
		t.Fatal("an older revision replaced the newer one")
	}
	if err := f.api.Put(post("p", 3, "Three")); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(20 * time.Second)
	if r := f.final(); r.ID != ev.ID || r.Outcome != refresh.Done {
		t.Fatalf("after the edge caught up: %+v", r)
	}
	if f.post("p") != served {
		t.Fatal("content changed")
	}
}

func TestFailuresRetryThenDeadLetterThenReplay(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{Attempts: 3}, post("p", 1, "One"))

	// Two 500s, then the API recovers: retried and served.
	if err := f.api.Put(post("p", 2, "Two")); err != nil {
		t.Fatal(err)
	}
	f.api.Script(localapi.Fault{Status: 500}, localapi.Fault{Status: 500})
	ev := f.publish("p", 2, cache.Blog)
	f.waitThenAdvance(time.Minute)
	f.waitThenAdvance(time.Minute)
	if r := f.final(); r.ID != ev.ID || r.Outcome != refresh.Done || r.Attempts != 3 {
		t.Fatalf("after recovery: %+v", r)
	}
	if !strings.Contains(f.post("p"), `"title":"Two"`) {
		t.Fatal("not served after recovery")
	}

	// A permanent failure: a dead letter, and the content stays.
	served := f.post("p")
	blog := string(f.store.Load().Blog.Root.Body())
	f.api.SetToken("revoked")
	if err := f.api.Put(post("p", 3, "Three")); err != nil {
		t.Fatal(err)
	}
	ev = f.publish("p", 3, cache.Blog)
	f.waitThenAdvance(time.Minute)
	f.waitThenAdvance(time.Minute)
	r := f.final()
	if r.ID != ev.ID || r.Outcome != refresh.Dead || !strings.Contains(r.Error, "401") {
		t.Fatalf("permanent failure: %+v", r)
	}
	if f.post("p") != served || string(f.store.Load().Blog.Root.Body()) != blog {
		t.Fatal("a failure changed the served content")
	}
	dead := f.engine.Log().DeadLetters()
	if len(dead) != 1 || dead[0].ID != ev.ID {
		t.Fatalf("dead letters: %+v", dead)
	}

	// Replay after recovery succeeds.
	f.api.SetToken(token)
	q := refresh.NewMemoryQueue(10)
	if _, err := f.engine.Replay(context.Background(), q, ev.ID); err != nil {
		t.Fatal(err)
	}
	f.events <- <-q.Events()
	if r := f.final(); r.ID != ev.ID || r.Outcome != refresh.Done || r.Replays != 1 {
		t.Fatalf("replay: %+v", r)
	}
	if !strings.Contains(f.post("p"), `"title":"Three"`) || len(f.engine.Log().DeadLetters()) != 0 {
		t.Fatal("the replay did not serve the content or left the dead letter")
	}
	if _, err := f.engine.Replay(context.Background(), q, ev.ID); err != refresh.ErrNoDeadLetter {
		t.Fatalf("second replay: %v", err)
	}
}

func TestFullRefreshCoversBoth(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("p", 1, "One"))
	if err := f.api.Put(profile("Grace")); err != nil {
		t.Fatal(err)
	}
	q := refresh.NewMemoryQueue(10)
	ev, err := f.engine.RefreshAll(context.Background(), q, "admin")
	if err != nil {
		t.Fatal(err)
	}
	f.events <- <-q.Events()
	if r := f.final(); r.ID != ev.ID || r.Outcome != refresh.Done || len(r.Snapshots) != 2 {
		t.Fatalf("full refresh: %+v", r)
	}
	if !strings.Contains(string(f.store.Load().CV.Root.Body()), "Grace") {
		t.Fatal("CV not refreshed")
	}
}

// TestUnresolvedLinkWaitsForTheAsset: a post links an asset that is not
// published yet (null). The asset's publish webhook must wait until the
// Delivery API resolves the link, not count the lagging null as done.
func TestUnresolvedLinkWaitsForTheAsset(t *testing.T) {
	linking := json.RawMessage(`{"sys":{"type":"Entry","id":"p","revision":1,"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:00Z",
		"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"blogPost"}}},
		"fields":{"slug":"p","publishDate":"2025-01-01","hero":{"sys":{"type":"Link","linkType":"Asset","id":"hero"}}}}`)
	f := newEngine(t, refresh.EngineOptions{}, linking)
	if !strings.Contains(f.post("p"), `"hero":null`) {
		t.Fatalf("setup: %s", f.post("p"))
	}
	asset := json.RawMessage(`{"sys":{"type":"Asset","id":"hero","revision":1,"updatedAt":"2025-02-01T00:00:00Z"},
		"fields":{"title":"Hero","file":{"url":"//images.example/hero.jpg","contentType":"image/jpeg"}}}`)
	if err := f.api.PutLagged(asset); err != nil {
		t.Fatal(err)
	}
	ev := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Asset.publish", Action: contentful.Publish,
		Entity: contentful.AssetRef("hero"), Revision: 1, Collections: []cache.Collection{cache.Blog}, ReceivedAt: f.clock.Now()}
	f.events <- ev
	f.awaitWait()
	if r, _ := f.engine.Log().Get(ev.ID); r.Outcome != refresh.Retrying {
		t.Fatalf("the lagging null counted as done: %s", r.Outcome)
	}
	f.api.ReleaseLag()
	f.clock.Advance(20 * time.Second)
	if r := f.final(); r.ID != ev.ID || r.Outcome != refresh.Done {
		t.Fatalf("after the asset resolved: %+v", r)
	}
	if !strings.Contains(f.post("p"), `"url":"https://images.example/hero.jpg"`) {
		t.Fatalf("the asset is not served: %s", f.post("p"))
	}
}

// TestForceRefreshInstallsLowerRevisions: an entity deleted and re-created
// with the same id starts again at revision 1. A normal refresh keeps the
// served revision 3 (revisions only move forward); an operator's forced
// refresh installs what the API serves.
func TestForceRefreshInstallsLowerRevisions(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("p", 3, "Old"))
	if err := f.api.Put(post("p", 1, "Re-created")); err != nil {
		t.Fatal(err)
	}
	q := refresh.NewMemoryQueue(10)
	if _, err := f.engine.RefreshAll(context.Background(), q, "safety-refresh"); err != nil {
		t.Fatal(err)
	}
	f.events <- <-q.Events()
	f.awaitWait() // the older answer is refused; the refresh polls on
	if !strings.Contains(f.post("p"), `"title":"Old"`) {
		t.Fatal("a normal refresh moved a revision back")
	}
	ev, err := f.engine.ForceRefresh(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	f.events <- <-q.Events()
	if r := f.finalOf(ev.ID); r.Outcome != refresh.Done {
		t.Fatalf("forced refresh: %+v", r)
	}
	if !strings.Contains(f.post("p"), `"title":"Re-created"`) {
		t.Fatalf("the forced refresh did not install: %s", f.post("p"))
	}
}

// TestResolveOnTheLeader: an event passed on by a follower gets its
// collections from the leader's own snapshot; one nothing serves ends as
// ignored without a fetch.
func TestResolveOnTheLeader(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("p", 1, "One"))
	unserved := refresh.Event{ID: refresh.NewEventID(), Action: contentful.Publish, Entity: contentful.AssetRef("nobody"),
		Revision: 1, ReceivedAt: f.clock.Now()}
	f.events <- unserved
	if r := f.final(); r.ID != unserved.ID || r.Outcome != refresh.Ignored {
		t.Fatalf("unserved: %+v", r)
	}
	served := refresh.Event{ID: refresh.NewEventID(), Action: contentful.Publish, Entity: contentful.EntryRef("p"),
		Revision: 1, ReceivedAt: f.clock.Now()}
	f.events <- served
	if r := f.final(); r.ID != served.ID || r.Outcome != refresh.Done || len(r.Collections) != 1 || r.Collections[0] != cache.Blog {
		t.Fatalf("served: %+v", r)
	}
	if blogFetches(f) != 1 || cvFetches(f) != 0 {
		t.Fatalf("fetches: blog %d, cv %d", blogFetches(f), cvFetches(f))
	}
}

// TestRemovedPostStaysRemoved: after an unpublish is served, a lagging CDN
// answer that still holds the post at its old revision cannot bring it
// back; a real re-publish (a higher revision) can.
func TestRemovedPostStaysRemoved(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("p", 2, "Two"), post("q", 1, "Other"))
	f.api.Delete("p")
	if r := f.finalOf(f.unpublish("p", 2).ID); r.Outcome != refresh.Done || f.post("p") != "" {
		t.Fatalf("unpublish: %+v", r)
	}
	if err := f.api.Put(post("p", 2, "Two")); err != nil { // a lagging edge
		t.Fatal(err)
	}
	q := refresh.NewMemoryQueue(10)
	f.engine.RefreshAll(context.Background(), q, "safety-refresh")
	f.events <- <-q.Events()
	f.awaitWait()
	if f.post("p") != "" {
		t.Fatal("a lagging answer brought the unpublished post back")
	}
	if err := f.api.Put(post("p", 3, "Three")); err != nil { // republished
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("p", 3, cache.Blog).ID); r.Outcome != refresh.Done || !strings.Contains(f.post("p"), `"title":"Three"`) {
		t.Fatalf("republish: %+v %s", r, f.post("p"))
	}
}

// enqueued records what an Enqueuer is given.
type enqueued struct {
	mu  sync.Mutex
	evs []refresh.Event
}

func (q *enqueued) Enqueue(_ context.Context, e refresh.Event) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.evs = append(q.evs, e)
	return nil
}

func (q *enqueued) all() []refresh.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	return slices.Clone(q.evs)
}

// TestCatchUpLeavesTheFirstLoadAlone: a catch-up in a process that serves
// nothing yet queues no refresh at once (its first load is fetching every
// collection whole: two whole fetches side by side doubled the memory a
// 10,000-post blog takes at start), only the one after the lag bound, of
// every collection; in a process that serves the blog, the refresh at once
// takes the blog.
func TestCatchUpLeavesTheFirstLoadAlone(t *testing.T) {
	clock := newFakeClock()
	store := &cache.Store{}
	loader := refresh.NewLoader(nil, store, cols, nil)
	engine := refresh.NewEngine(loader, refresh.EngineOptions{Clock: clock, WaitBound: time.Minute}, nil)
	q := &enqueued{}
	if err := engine.CatchUp(t.Context(), q, "leader-catch-up"); err != nil {
		t.Fatal(err)
	}
	<-clock.waits
	if got := q.all(); len(got) != 0 {
		t.Fatalf("queued at once while nothing is served: %+v", got)
	}
	clock.Advance(2 * time.Minute)
	for deadline := time.Now().Add(5 * time.Second); len(q.all()) == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if len(q.all()) != 1 {
		t.Fatalf("after the lag bound: %+v", q.all())
	}
	if ev := q.all()[0]; !ev.Full || len(ev.Collections) != 2 {
		t.Fatalf("after the lag bound: %+v", ev)
	}

	c, err := contentful.NewCollection([]json.RawMessage{post("p1", 1, "One")})
	if err != nil {
		t.Fatal(err)
	}
	blog, _, err := cache.BuildBlog(t.Context(), c, nil, cache.BlogOptions{SlugField: "slug"})
	if err != nil {
		t.Fatal(err)
	}
	store.Put(blog)
	q2 := &enqueued{}
	if err := engine.CatchUp(t.Context(), q2, "leader-catch-up"); err != nil {
		t.Fatal(err)
	}
	if got := q2.all(); len(got) != 1 || !got[0].Full || !slices.Equal(got[0].Collections, []cache.Collection{cache.Blog}) {
		t.Fatalf("queued at once while the blog is served: %+v", got)
	}
}

// overlapCounter is a Fetcher that records how many whole fetches of the
// blog ran at once (each lasts a little, so that two started together
// overlap).
type overlapCounter struct {
	inner         refresh.Fetcher
	mu            sync.Mutex
	now, most, of int
}

func (o *overlapCounter) Fetch(ctx context.Context, q contentful.Query) (*contentful.Collection, error) {
	blog := slices.Contains(q.ContentTypes, cols.BlogType)
	if blog {
		o.mu.Lock()
		o.now++
		o.of++
		o.most = max(o.most, o.now)
		o.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		defer func() { o.mu.Lock(); o.now--; o.mu.Unlock() }()
	}
	return o.inner.Fetch(ctx, q)
}

// TestFirstLoadAndEngineTakeTurns: a whole refresh the engine runs (a
// catch-up) and the first load never fetch and build the same collection
// side by side: at 10,000 posts that held two whole blogs at once.
func TestFirstLoadAndEngineTakeTurns(t *testing.T) {
	api := localapi.New("s", "master", token)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	if err := api.Put(post("p1", 1, "One"), profile("Ada")); err != nil {
		t.Fatal(err)
	}
	client, err := contentful.New(contentful.Options{BaseURL: srv.URL, Space: "s", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	fetcher := &overlapCounter{inner: client}
	run := runEngine(t, fetcher)
	store, loader, events, finals, ctx := run.store, run.loader, run.events, run.finals, run.ctx

	events <- refresh.Event{ID: refresh.NewEventID(), Topic: "leader-catch-up-after-lag", Full: true,
		Collections: []cache.Collection{cache.Blog}, ReceivedAt: time.Now()}
	if err := loader.Initial(ctx, refresh.RealClock{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-finals:
	case <-time.After(10 * time.Second):
		t.Fatal("the catch-up never finished")
	}
	fetcher.mu.Lock()
	defer fetcher.mu.Unlock()
	if fetcher.most != 1 {
		t.Errorf("%d whole fetches of the blog ran at once, want 1", fetcher.most)
	}
	if store.Load().Blog == nil {
		t.Error("the blog is not served")
	}
}
