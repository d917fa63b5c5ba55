package refresh_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/refresh"
)

// The cases of the write-path issue, one test each: what an editor (or an
// import tool) does, in the order it happens.

// TestRecreatedEntryIsServedAndNothingFreezes: a post deleted and
// re-created with the same id starts again at revision 1 with a new
// createdAt. It is served, and later edits of any entry and the safety
// refresh go through.
func TestRecreatedEntryIsServedAndNothingFreezes(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("p", 3, "Three"), post("q", 1, "Q one"))
	f.api.Delete("p")
	if r := f.finalOf(f.unpublish("p", 3).ID); r.Outcome != refresh.Done {
		t.Fatalf("delete: %+v", r)
	}
	if err := f.api.Put(postCreated("p", 1, "Re-created", "2026-06-01T00:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("p", 1, cache.Blog).ID); r.Outcome != refresh.Done || !strings.Contains(f.post("p"), `"title":"Re-created"`) {
		t.Fatalf("re-created: %+v, serving %s", r, f.post("p"))
	}
	if err := f.api.Put(post("q", 2, "Q two")); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("q", 2, cache.Blog).ID); r.Outcome != refresh.Done || !strings.Contains(f.post("q"), `"title":"Q two"`) {
		t.Fatalf("a later edit of another post: %+v, serving %s", r, f.post("q"))
	}
	q := refresh.NewMemoryQueue(10)
	ev, _ := f.engine.RefreshAll(context.Background(), q, "safety-refresh")
	f.events <- <-q.Events()
	if r := f.finalOf(ev.ID); r.Outcome != refresh.Done {
		t.Fatalf("safety refresh: %+v", r)
	}
}

// TestRecreatedWithoutItsDeleteWebhook: the delete webhook never came (or
// came late); the re-created entry at revision 1 still replaces the old
// incarnation at revision 3 at once, because its createdAt differs.
func TestRecreatedWithoutItsDeleteWebhook(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("p", 3, "Three"))
	if err := f.api.Put(postCreated("p", 1, "Re-created", "2026-06-01T00:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("p", 1, cache.Blog).ID); r.Outcome != refresh.Done || !strings.Contains(f.post("p"), `"title":"Re-created"`) {
		t.Fatalf("re-created: %+v, serving %s", r, f.post("p"))
	}
}

// TestStaleEntityNeverBlocksItsCollection: a lagging edge answers one post
// at an older revision and another at a newer one. The newer is installed at
// once, the served version of the older is kept, and the collection is
// fetched again; once the lag bound has passed, what the Delivery API
// answers is the truth.
func TestStaleEntityNeverBlocksItsCollection(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, post("p", 2, "P two"), post("q", 1, "Q one"))
	if err := f.api.Put(post("p", 1, "P one"), post("q", 2, "Q two")); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("q", 2, cache.Blog).ID); r.Outcome != refresh.Done {
		t.Fatalf("publish q: %+v", r)
	}
	if !strings.Contains(f.post("q"), `"title":"Q two"`) || !strings.Contains(f.post("p"), `"title":"P two"`) {
		t.Fatalf("serving q %s, p %s", f.post("q"), f.post("p"))
	}
	if !f.engine.Busy(cache.Blog) {
		t.Fatal("a stale entity must keep its collection polling")
	}
	// The Delivery API keeps answering revision 1 past the bound: that is
	// the truth now (an edge cannot lag that long).
	before, start := blogFetches(f), f.clock.Now()
	f.until("the Delivery API's answer wins after the lag bound", func() bool { return strings.Contains(f.post("p"), `"title":"P one"`) })
	if f.clock.Now().Sub(start) < 9*time.Minute {
		t.Fatalf("the stale answer won after %s, within the bound", f.clock.Now().Sub(start))
	}
	if blogFetches(f) == before {
		t.Fatal("no refetch after the stale answer")
	}
}

// until moves the clock on whenever the engine waits, until cond holds.
func (f *engineFixture) until(what string, cond func() bool) {
	f.t.Helper()
	deadline := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-f.clock.waits:
			f.clock.Advance(15 * time.Second)
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			f.t.Fatalf("never: %s", what)
		}
	}
}

// TestRemovalIsRememberedForTheBoundOnly: after an unpublish is served, a
// lagging edge cannot bring the post back within the lag bound; past it, a
// post the Delivery API still serves is served (the memory of removals
// expires even when nothing else changes).
func TestRemovalIsRememberedForTheBoundOnly(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, post("p", 2, "Two"), post("q", 1, "Other"))
	f.api.Delete("p")
	if r := f.finalOf(f.unpublish("p", 2).ID); r.Outcome != refresh.Done || f.post("p") != "" {
		t.Fatalf("unpublish: %+v", r)
	}
	if err := f.api.Put(post("p", 2, "Two")); err != nil { // a lagging edge, or the truth
		t.Fatal(err)
	}
	q := refresh.NewMemoryQueue(10)
	ev, _ := f.engine.RefreshAll(context.Background(), q, "safety-refresh")
	f.events <- <-q.Events()
	if r := f.final(); r.ID != ev.ID || r.Outcome != refresh.Done {
		t.Fatalf("safety refresh: %+v", r)
	}
	if f.post("p") != "" {
		t.Fatal("within the bound, a lagging answer brought the unpublished post back")
	}
	start := f.clock.Now()
	f.until("the post the Delivery API serves is served past the bound", func() bool { return strings.Contains(f.post("p"), `"title":"Two"`) })
	if f.clock.Now().Sub(start) < 8*time.Minute {
		t.Fatalf("the removed post came back after %s, within the bound", f.clock.Now().Sub(start))
	}
}

// TestOvertakenEventIsSuperseded: a publish overtaken by an unpublish is
// done, superseded, as soon as the unpublish is served: no polling to the
// bound, no false "failed". An unpublish while the CDN still serves the
// entry is done at once, and a republish after it is served.
func TestOvertakenEventIsSuperseded(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("p", 1, "One"), post("q", 1, "Other"))

	// Publish of revision 2 (the CDN still lags), then an unpublish.
	pub := f.publish("p", 2, cache.Blog)
	f.awaitWait() // fetched, still revision 1: polling
	f.api.Delete("p")
	unpub := f.unpublish("p", 2)
	got := map[string]refresh.Record{}
	for len(got) < 2 {
		select {
		case r := <-f.finals:
			got[r.ID] = r
		case <-f.clock.waits:
			f.clock.Advance(2 * time.Second)
		case <-time.After(10 * time.Second):
			t.Fatalf("finished: %v", got)
		}
	}
	if r := got[pub.ID]; r.Outcome != refresh.Done || r.SupersededBy != unpub.ID {
		t.Fatalf("publish overtaken by an unpublish: %+v", r)
	}
	if r := got[unpub.ID]; r.Outcome != refresh.Done || r.SupersededBy != "" {
		t.Fatalf("unpublish: %+v", r)
	}

	// Unpublish of q while the CDN still serves it: the webhook said which
	// revision went, so the lagging answer is stale and q goes at once;
	// then a republish brings it back.
	unq := f.unpublish("q", 1)
	if r := f.finalOf(unq.ID); r.Outcome != refresh.Done || f.post("q") != "" {
		t.Fatalf("unpublish while the CDN lags: %+v, serving %s", r, f.post("q"))
	}
	if err := f.api.Put(post("q", 2, "Back")); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("q", 2, cache.Blog).ID); r.Outcome != refresh.Done || !strings.Contains(f.post("q"), `"title":"Back"`) {
		t.Fatalf("republish: %+v, serving %s", r, f.post("q"))
	}
}

// TestChangeReachesACollectionThatIsComingToLinkIt: while the CV is being
// fetched, its profile comes to link a post, and that post is republished.
// The webhook names the blog only (the served CV does not link the post
// yet), but the CV is busy, so the event waits for a CV fetch of its own:
// /cv serves the new revision too, not after the next safety refresh.
func TestChangeReachesACollectionThatIsComingToLinkIt(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, post("p", 1, "One"))
	f.gate.entered, f.gate.release = make(chan struct{}), make(chan struct{})
	if err := f.api.Put(profileLinking("Ada", 2, "p")); err != nil {
		t.Fatal(err)
	}
	prof := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Entry.publish", Action: contentful.Publish,
		Entity: contentful.EntryRef("me"), ContentType: "profile", Revision: 2, Collections: []cache.Collection{cache.CV}, ReceivedAt: f.clock.Now()}
	f.events <- prof
	<-f.gate.entered // the CV fetch is in flight
	if err := f.api.Put(post("p", 2, "Two")); err != nil {
		t.Fatal(err)
	}
	republish := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Entry.publish", Action: contentful.Publish,
		Entity: contentful.EntryRef("p"), ContentType: "blogPost", Revision: 2, Collections: []cache.Collection{cache.Blog}, ReceivedAt: f.clock.Now()}
	f.engine.Dispatch(republish)
	go func() {
		for range f.gate.entered {
			f.gate.release <- struct{}{}
		}
	}()
	f.gate.release <- struct{}{}
	r := f.finalOf(republish.ID)
	if r.Outcome != refresh.Done || len(r.Collections) != 2 {
		t.Fatalf("republish: %+v", r)
	}
	cv := string(f.store.Load().CV.Root.Body())
	if !strings.Contains(cv, `"title":"Two"`) {
		t.Fatalf("/cv does not serve the republished post: %s", cv)
	}
}

// TestEarlierIncarnationIsStale: after a re-created post is served, a
// lagging edge still serving the deleted incarnation (an earlier createdAt,
// whatever its revision) does not bring it back.
func TestEarlierIncarnationIsStale(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, post("p", 3, "Old incarnation"))
	if err := f.api.Put(postCreated("p", 1, "Re-created", "2026-06-01T00:00:00Z")); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("p", 1, cache.Blog).ID); r.Outcome != refresh.Done || !strings.Contains(f.post("p"), `"title":"Re-created"`) {
		t.Fatalf("re-created: %+v", r)
	}
	if err := f.api.Put(post("p", 3, "Old incarnation")); err != nil { // a lagging edge
		t.Fatal(err)
	}
	q := refresh.NewMemoryQueue(10)
	ev, _ := f.engine.RefreshAll(context.Background(), q, "safety-refresh")
	f.events <- <-q.Events()
	if r := f.final(); r.ID != ev.ID {
		t.Fatalf("final %+v", r)
	}
	if !strings.Contains(f.post("p"), `"title":"Re-created"`) {
		t.Fatalf("the deleted incarnation came back: %s", f.post("p"))
	}
}

// TestRemovalWebhookInformsTheRule: the CV served a post at revision 1;
// the post is published at 2 and unpublished, and the CV never saw
// revision 2. A lagging edge that still holds revision 2 must not bring
// it back: the unpublish webhook said it went at revision 2.
func TestRemovalWebhookInformsTheRule(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, post("p", 1, "One"))
	f.publishProfileLinking(2, "p")
	f.api.Delete("p")
	unpub := f.unpublish("p", 2)
	if r := f.finalOf(unpub.ID); r.Outcome != refresh.Done {
		t.Fatalf("unpublish: %+v", r)
	}
	if err := f.api.Put(post("p", 2, "Two")); err != nil { // a lagging edge: published, not yet unpublished
		t.Fatal(err)
	}
	q := refresh.NewMemoryQueue(10)
	ev, _ := f.engine.RefreshAll(context.Background(), q, "safety-refresh")
	f.events <- <-q.Events()
	if r := f.final(); r.ID != ev.ID {
		t.Fatalf("final %+v", r)
	}
	if cv := string(f.store.Load().CV.Root.Body()); strings.Contains(cv, `"revision":2,"fields":{"slug":"p"`) {
		t.Fatalf("a lagging edge brought back a post the webhook said was removed: %s", cv)
	}
}

// TestAdoptKeepsWhatThisReplicaServedNewer: a follower that served a post
// at revision 2 (it processed the event itself while Redis was away) gets
// the leader's part with revision 1 (a new leader that read a lagging
// edge): it keeps revision 2 and takes the rest. A forced part is taken as
// it is.
func TestAdoptKeepsWhatThisReplicaServedNewer(t *testing.T) {
	leader := newEngine(t, refresh.EngineOptions{}, post("p", 1, "One"), post("q", 1, "Q"))
	if err := leader.api.Put(post("q", 2, "Q two")); err != nil {
		t.Fatal(err)
	}
	if r := leader.finalOf(leader.publish("q", 2, cache.Blog).ID); r.Outcome != refresh.Done {
		t.Fatalf("leader: %+v", r)
	}
	leaders := leader.store.Load().Blog

	follower := newEngine(t, refresh.EngineOptions{}, post("p", 2, "Two"), post("q", 1, "Q"))
	loader := refresh.NewLoader(nil, follower.store, cols, nil)
	refresh.NewEngine(loader, refresh.EngineOptions{Clock: follower.clock}, nil) // the follower's clock and bound
	if err := loader.Adopt(context.Background(), leaders); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(follower.post("p"), `"title":"Two"`) || !strings.Contains(follower.post("q"), `"title":"Q two"`) {
		t.Fatalf("adopted: p %s, q %s", follower.post("p"), follower.post("q"))
	}
	forced := *leaders
	forced.Forced = true
	if err := loader.Adopt(context.Background(), &forced); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(follower.post("p"), `"title":"One"`) {
		t.Fatalf("a forced part must be installed as it is: %s", follower.post("p"))
	}
}

// TestReorderedPublishesDoNotSupersede: the webhook for revision 4 comes
// before the one for revision 3 (Contentful does not promise order). The
// later webhook's revision 3 being served does not settle revision 4: it
// waits until 4 is served.
//
// The bound is 10 minutes, as in the tests below: the fixture's clock
// moves a minute per engine wait, and under load revision 4 waited twice
// before revision 3 settled; the default 2 minutes then failed it (flaked
// ~3 in 40 runs under -race).
func TestReorderedPublishesDoNotSupersede(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, post("p", 3, "Three"))
	r4 := f.publish("p", 4, cache.Blog)
	r3 := f.publish("p", 3, cache.Blog)
	if r := f.finalOf(r3.ID); r.Outcome != refresh.Done {
		t.Fatalf("revision 3: %+v", r)
	}
	if r, _ := f.engine.Log().Get(r4.ID); r.Outcome.Final() {
		t.Fatalf("revision 4 settled by revision 3: %+v", r)
	}
	if err := f.api.Put(post("p", 4, "Four")); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(r4.ID); r.Outcome != refresh.Done || r.SupersededBy != "" || !strings.Contains(f.post("p"), `"title":"Four"`) {
		t.Fatalf("revision 4: %+v, serving %s", r, f.post("p"))
	}
}

// TestLateDeleteOfThePreviousIncarnation: an entry deleted and re-created;
// the delete webhook of the old incarnation comes after the re-created one
// is served (Contentful does not promise order). Its sys.deletedAt is
// before the served entry's createdAt, so it is not about it: the
// re-created entry stays.
func TestLateDeleteOfThePreviousIncarnation(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{}, postCreated("p", 1, "Re-created", "2026-06-01T00:00:10Z"))
	late := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Entry.delete", Action: contentful.Delete,
		Entity: contentful.EntryRef("p"), ContentType: "blogPost", Revision: 1, DeletedAt: "2026-06-01T00:00:05Z",
		Collections: []cache.Collection{cache.Blog}, ReceivedAt: f.clock.Now()}
	f.events <- late
	f.final()
	if !strings.Contains(f.post("p"), `"title":"Re-created"`) {
		t.Fatalf("a late delete of the previous incarnation took the re-created entry down: %q", f.post("p"))
	}
}

// TestLateDeleteDoesNotSettleTheRecreation: the re-created entry's publish
// waits on a lagging CDN when the delete webhook of the entry before it
// arrives. That delete does not overtake the publish (its deletedAt is
// before the new entry's createdAt): the publish waits until the
// re-created entry is served.
//
// The bound is 10 minutes: the fixture's clock moves a minute per engine
// wait, and under load the publish may wait twice before the delete is
// taken; the default 2 minutes then failed it (a test-timing weakness).
func TestLateDeleteDoesNotSettleTheRecreation(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, postCreated("p", 2, "Old", "2026-06-01T00:00:00Z"))
	f.api.Delete("p") // the CDN: the old one gone, the new one not yet there
	pub := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Entry.publish", Action: contentful.Publish,
		Entity: contentful.EntryRef("p"), ContentType: "blogPost", Revision: 1, CreatedAt: "2026-06-01T00:00:10Z",
		Collections: []cache.Collection{cache.Blog}, ReceivedAt: f.clock.Now()}
	f.events <- pub
	f.awaitWait()
	del := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Entry.delete", Action: contentful.Delete,
		Entity: contentful.EntryRef("p"), ContentType: "blogPost", Revision: 2, DeletedAt: "2026-06-01T00:00:05Z",
		Collections: []cache.Collection{cache.Blog}, ReceivedAt: f.clock.Now()}
	f.events <- del
	if r := f.finalOf(del.ID); r.Outcome != refresh.Done {
		t.Fatalf("delete: %+v", r)
	}
	if r, _ := f.engine.Log().Get(pub.ID); r.Outcome.Final() {
		t.Fatalf("the late delete of the old entry settled the re-created one's publish: %+v", r)
	}
	if err := f.api.Put(postCreated("p", 1, "New", "2026-06-01T00:00:10Z")); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(pub.ID); r.Outcome != refresh.Done || r.SupersededBy != "" || !strings.Contains(f.post("p"), `"title":"New"`) {
		t.Fatalf("publish: %+v, serving %s", r, f.post("p"))
	}
}

// TestRemovalOfAnEntryNeverServed: a post published and unpublished before
// folio ever served it; the CDN still shows it. The unpublish webhook is
// enough: no answer within the bound brings it in.
func TestRemovalOfAnEntryNeverServed(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, post("q", 1, "Q"))
	if err := f.api.Put(post("p", 1, "Briefly published")); err != nil { // the CDN lags the unpublish
		t.Fatal(err)
	}
	if r := f.finalOf(f.unpublish("p", 1).ID); r.Outcome != refresh.Done || f.post("p") != "" {
		t.Fatalf("unpublish: %+v, serving %q", r, f.post("p"))
	}
	q := refresh.NewMemoryQueue(10)
	ev, _ := f.engine.RefreshAll(context.Background(), q, "safety-refresh")
	f.events <- <-q.Events()
	if r := f.final(); r.ID != ev.ID {
		t.Fatalf("final %+v", r)
	}
	if f.post("p") != "" {
		t.Fatal("a lagging answer brought in a post a webhook said was unpublished")
	}
}

// TestKeptEntityKeepsWhatItLinks: a lagging edge answers the profile at an
// older revision that does not link the post yet, and lacks the post. The
// served profile is kept, and so is the post it links: an older answer's
// absences say nothing of the newer state kept.
func TestKeptEntityKeepsWhatItLinks(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, postCreated("p", 1, "New incarnation", "2026-06-01T00:00:10Z"))
	f.publishProfileLinking(3, "p")
	// The lagging edge: profile at revision 1, no post.
	if err := f.api.Put(profileLinking("Ada", 1)); err != nil {
		t.Fatal(err)
	}
	f.api.Delete("p")
	q := refresh.NewMemoryQueue(10)
	ev, _ := f.engine.RefreshAll(context.Background(), q, "safety-refresh")
	f.events <- <-q.Events()
	if r := f.final(); r.ID != ev.ID {
		t.Fatalf("final %+v", r)
	}
	if cv := string(f.store.Load().CV.Root.Body()); !strings.Contains(cv, `"revision":3`) || !strings.Contains(cv, `"title":"New incarnation"`) {
		t.Fatalf("the kept profile lost the post it links: %s", cv)
	}
}

// TestMissingFromALaggingAnswerIsNotRemoved: a post just published and
// served is missing from the next answer (a lagging edge, or an index from
// one), with no webhook saying it went. It stays, in its place, and the
// collection is fetched again; past the lag bound a missing post is gone.
func TestMissingFromALaggingAnswerIsNotRemoved(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, post("a", 1, "A"), post("c", 1, "C"))
	if err := f.api.Put(post("b", 1, "B")); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("b", 1, cache.Blog).ID); r.Outcome != refresh.Done {
		t.Fatalf("publish b: %+v", r)
	}
	before := string(f.store.Load().Blog.Root.Body())
	f.api.Delete("b") // the lagging edge
	if err := f.api.Put(post("c", 2, "C two")); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("c", 2, cache.Blog).ID); r.Outcome != refresh.Done {
		t.Fatalf("publish c: %+v", r)
	}
	if f.post("b") == "" {
		t.Fatal("a post missing from a lagging answer was taken down")
	}
	list := string(f.store.Load().Blog.Root.Body())
	if !strings.Contains(list, `"id":"b"`) || !strings.Contains(before, `"id":"b"`) {
		t.Fatalf("b left the list: %s", list)
	}
	start := f.clock.Now()
	f.until("the missing post goes once the lag bound has passed", func() bool { return f.post("b") == "" })
	if f.clock.Now().Sub(start) < 8*time.Minute {
		t.Fatalf("gone after %s, within the bound", f.clock.Now().Sub(start))
	}
}

// TestLinkToAnAssetPublishedBeforeItWasLinked: an asset is published (its
// webhook settles at once: nothing links it yet), then a post that links it
// is served from a lagging answer that lacks the asset. The unresolved link
// to what a webhook said was published keeps the collection polling until
// the asset is served.
func TestLinkToAnAssetPublishedBeforeItWasLinked(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, post("q", 1, "Q"))
	asset := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Asset.publish", Action: contentful.Publish,
		Entity: contentful.AssetRef("hero"), Revision: 1, Collections: []cache.Collection{cache.Blog}, ReceivedAt: f.clock.Now()}
	f.events <- asset
	if r := f.finalOf(asset.ID); r.Outcome != refresh.Done {
		t.Fatalf("asset: %+v", r)
	}
	if err := f.api.Put(postLinking("p", 1, "P", "hero")); err != nil { // the lagging edge has the post, not the asset
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("p", 1, cache.Blog).ID); r.Outcome != refresh.Done || !strings.Contains(f.post("p"), `"hero":null`) {
		t.Fatalf("post: %+v %s", r, f.post("p"))
	}
	if err := f.api.Put(assetAt("hero", 1, "Hero")); err != nil {
		t.Fatal(err)
	}
	f.until("the asset is served once the CDN has it", func() bool { return strings.Contains(f.post("p"), `"title":"Hero"`) })
}

// publishProfileLinking publishes the profile at rev, linking the posts,
// and waits until its event is done.
func (f *engineFixture) publishProfileLinking(rev int, posts ...string) {
	f.t.Helper()
	if err := f.api.Put(profileLinking("Ada", rev, posts...)); err != nil {
		f.t.Fatal(err)
	}
	prof := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Entry.publish", Action: contentful.Publish,
		Entity: contentful.EntryRef("me"), ContentType: "profile", Revision: rev, ReceivedAt: f.clock.Now()}
	f.events <- prof
	if r := f.finalOf(prof.ID); r.Outcome != refresh.Done {
		f.t.Fatalf("profile: %+v", r)
	}
}

// TestRemovalInformsEveryCollection: a post is unpublished (the webhook
// names the blog only: nothing links it yet), then the profile is published
// to link it, and a lagging edge answers the profile with the post still
// published. The CV must not bring the post in: the removal webhook said it
// went, whichever collection it named. (Seed 20261130040 of e2e's oracle:
// /cv served the unpublished post for good.)
func TestRemovalInformsEveryCollection(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, post("q", 1, "Q"))
	if err := f.api.Put(post("p", 1, "Briefly published")); err != nil { // the lagging edge still has it
		t.Fatal(err)
	}
	if r := f.finalOf(f.unpublish("p", 1).ID); r.Outcome != refresh.Done || f.post("p") != "" {
		t.Fatalf("unpublish: %+v, serving %q", r, f.post("p"))
	}
	f.publishProfileLinking(2, "p")
	cv := string(f.store.Load().CV.Root.Body())
	if !strings.Contains(cv, `"revision":2`) || strings.Contains(cv, "Briefly published") {
		t.Fatalf("the CV links a post a webhook said was unpublished: %s", cv)
	}
	if !f.engine.Busy(cache.CV) {
		t.Fatal("a lagging answer must keep the CV polling")
	}
	// The edge catches up: the CV is fetched again and shows the truth.
	f.api.Delete("p")
	if err := f.api.Put(profileLinking("Ada", 2, "p")); err != nil {
		t.Fatal(err)
	}
	f.until("the CV is fetched again", func() bool { return !f.engine.Busy(cache.CV) })
	if cv := string(f.store.Load().CV.Root.Body()); strings.Contains(cv, "Briefly published") {
		t.Fatalf("after the edge caught up: %s", cv)
	}
}

// TestPublishInformsEveryCollection: a post is republished (the webhook
// names the blog only: the CV does not link it yet), then the profile is
// published to link it, and a lagging edge answers the profile with the
// post at its revision before. The CV keeps polling until the Delivery API
// serves the revision the webhook said, as it does for a link that does not
// resolve yet.
func TestPublishInformsEveryCollection(t *testing.T) {
	f := newEngine(t, refresh.EngineOptions{WaitBound: 10 * time.Minute}, post("p", 1, "One"))
	if err := f.api.Put(post("p", 2, "Two")); err != nil {
		t.Fatal(err)
	}
	if r := f.finalOf(f.publish("p", 2, cache.Blog).ID); r.Outcome != refresh.Done || !strings.Contains(f.post("p"), `"title":"Two"`) {
		t.Fatalf("republish: %+v, serving %q", r, f.post("p"))
	}
	if err := f.api.Put(post("p", 1, "One")); err != nil { // the lagging edge
		t.Fatal(err)
	}
	f.publishProfileLinking(2, "p")
	if !f.engine.Busy(cache.CV) {
		t.Fatalf("the CV serves a post older than its webhook said and does not poll: %s", f.store.Load().CV.Root.Body())
	}
	if err := f.api.Put(post("p", 2, "Two")); err != nil { // the edge catches up
		t.Fatal(err)
	}
	f.until("the CV serves the republished post", func() bool {
		return strings.Contains(string(f.store.Load().CV.Root.Body()), `"title":"Two"`)
	})
}
