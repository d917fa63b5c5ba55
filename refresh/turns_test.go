package refresh_test

import (
	"context"
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

// gatedFetcher holds its first whole fetch of the blog until open is
// closed, and says on entered when that fetch began.
type gatedFetcher struct {
	inner   refresh.Fetcher
	once    sync.Once
	entered chan struct{}
	open    chan struct{}
}

func (g *gatedFetcher) Fetch(ctx context.Context, q contentful.Query) (*contentful.Collection, error) {
	if slices.Contains(q.ContentTypes, cols.BlogType) {
		first := false
		g.once.Do(func() { first = true })
		if first {
			close(g.entered)
			select {
			case <-g.open:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	return g.inner.Fetch(ctx, q)
}

// TestEventDuringSlowFirstLoadWaitsItsTurnAndSettles: a webhook, and an
// operator's forced refresh, that arrive while the first load holds the
// blog's turn for a slow whole fetch wait for it (no deadlock), then
// settle, and the blog serves what the Delivery API serves at the end.
func TestEventDuringSlowFirstLoadWaitsItsTurnAndSettles(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(map[bool]string{false: "webhook", true: "forced"}[force], func(t *testing.T) {
			api := localapi.New("s", "master", token)
			srv := httptest.NewServer(api)
			t.Cleanup(srv.Close)
			if err := api.Put(post("p1", 1, "One"), post("p2", 1, "Other"), profile("Ada")); err != nil {
				t.Fatal(err)
			}
			client, err := contentful.New(contentful.Options{BaseURL: srv.URL, Space: "s", Token: token})
			if err != nil {
				t.Fatal(err)
			}
			g := &gatedFetcher{inner: client, entered: make(chan struct{}), open: make(chan struct{})}
			run := runEngine(t, g)
			store, loader, events, finals, ctx := run.store, run.loader, run.events, run.finals, run.ctx

			initial := make(chan error, 1)
			go func() { initial <- loader.Initial(ctx, refresh.RealClock{}) }()
			<-g.entered // the first load holds the blog's turn, its fetch stalled
			if err := api.Put(post("p1", 2, "Two")); err != nil {
				t.Fatal(err)
			}
			ev := refresh.Event{ID: refresh.NewEventID(), Topic: "ContentManagement.Entry.publish", Action: contentful.Publish,
				Entity: contentful.EntryRef("p1"), ContentType: "blogPost", Revision: 2, Collections: []cache.Collection{cache.Blog}, ReceivedAt: time.Now()}
			if force {
				ev = refresh.Event{ID: refresh.NewEventID(), Topic: "admin-refresh", Full: true, Force: true,
					Collections: []cache.Collection{cache.Blog, cache.CV}, ReceivedAt: time.Now()}
			}
			events <- ev
			time.Sleep(50 * time.Millisecond) // let the worker reach the turn
			close(g.open)
			select {
			case err := <-initial:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the first load never finished")
			}
			select {
			case r := <-finals:
				if r.ID != ev.ID || r.Outcome != refresh.Done {
					t.Fatalf("event %s: %s %s", r.ID, r.Outcome, r.Error)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the event never settled: stuck behind the first load")
			}
			blog := store.Load().Blog
			if blog == nil || blog.Posts["p1"] == nil || !strings.Contains(string(blog.Posts["p1"].Body()), "Two") {
				t.Fatalf("p1 is not served at revision 2")
			}
			if blog.Posts["p2"] == nil {
				t.Fatal("p2 lost")
			}
		})
	}
}
