package refresh

import (
	"context"
	"errors"
	"time"

	"github.com/folio-cms/folio/cache"
)

// What operators and timers ask of the engine: replays, full, forced and
// catch-up refreshes.

// Enqueuer holds events for the engine (the queue it consumes).
type Enqueuer interface {
	Enqueue(ctx context.Context, e Event) error
}

// ErrNoDeadLetter means no dead letter has that id.
var ErrNoDeadLetter = errors.New("refresh: no dead letter has that id")

// Replay puts a dead letter back on the queue, with a fresh wait bound. The
// dead letter is taken from EngineOptions.DeadLetters, once: a second replay
// of it (on this replica or another) finds none and fails with
// ErrNoDeadLetter; a store that cannot say returns its error. When the
// queue refuses the event, the dead letter is put back.
func (e *Engine) Replay(ctx context.Context, q Enqueuer, id string) (Event, error) {
	rec, ok, err := e.opts.DeadLetters.TakeDead(ctx, id)
	if err != nil {
		return Event{}, err
	}
	if !ok {
		return Event{}, ErrNoDeadLetter
	}
	ev := rec.Event
	ev.ReceivedAt = e.opts.Clock.Now().UTC()
	ev.Replay = rec.Replays + 1
	if err := q.Enqueue(ctx, ev); err != nil {
		e.events.AddDead(rec) // still dead: nothing was replayed
		return Event{}, err
	}
	e.events.Update(ev.ID, func(r *Record) { r.Replays = ev.Replay })
	return ev, nil
}

// RefreshAll queues a refetch of every collection, coalesced with whatever
// else is pending: the safety timer and a new leader's catch-up.
func (e *Engine) RefreshAll(ctx context.Context, q Enqueuer, reason string) (Event, error) {
	ev := Event{ID: NewEventID(), Topic: reason, Entity: "", Full: true,
		Collections: []cache.Collection{cache.Blog, cache.CV}, ReceivedAt: e.opts.Clock.Now().UTC()}
	return ev, q.Enqueue(ctx, ev)
}

// CatchUp queues a full refresh now and another once the lag bound has
// passed (unless ctx ends first): for a process that may have missed
// events (a new leader, or one whose Redis lost its data), the first can
// read a CDN that still lags behind them, and no webhook will ask again.
// The refresh now leaves out a collection this process serves nothing of
// yet: its first load (Loader.Initial) is fetching it whole already, and a
// second whole fetch beside it would double what a large blog takes at
// start (two fetches and builds of 10,000 posts at once); the refresh after
// the lag bound takes every collection.
func (e *Engine) CatchUp(ctx context.Context, q Enqueuer, reason string) error {
	var now []cache.Collection
	for _, col := range []cache.Collection{cache.Blog, cache.CV} {
		if e.loader.store.Load().Part(col) != nil {
			now = append(now, col)
		}
	}
	if len(now) > 0 {
		ev := Event{ID: NewEventID(), Topic: reason, Full: true, Collections: now, ReceivedAt: e.opts.Clock.Now().UTC()}
		if err := q.Enqueue(ctx, ev); err != nil {
			return err
		}
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-e.opts.Clock.After(e.opts.WaitBound + settleMargin):
			if _, err := e.RefreshAll(ctx, q, reason+"-after-lag"); err != nil && ctx.Err() == nil {
				e.log.Warn("catch-up refresh not queued", "error", err)
			}
		}
	}()
	return nil
}

// ForceRefresh is an operator's full refresh: what the Delivery API returns
// is installed even where it holds a lower revision than served (the way
// out when an entity was deleted and re-created with the same id).
func (e *Engine) ForceRefresh(ctx context.Context, q Enqueuer) (Event, error) {
	ev := Event{ID: NewEventID(), Topic: "admin-refresh", Full: true, Force: true,
		Collections: []cache.Collection{cache.Blog, cache.CV}, ReceivedAt: e.opts.Clock.Now().UTC()}
	return ev, q.Enqueue(ctx, ev)
}

// RunSafetyRefresh queues a full refresh every interval until ctx ends, to
// repair a webhook that never arrived. It goes through the queue, so it
// coalesces with webhook work instead of doubling it.
func (e *Engine) RunSafetyRefresh(ctx context.Context, q Enqueuer, interval time.Duration) {
	if interval <= 0 {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.opts.Clock.After(interval):
		}
		if _, err := e.RefreshAll(ctx, q, "safety-refresh"); err != nil {
			e.log.Warn("safety refresh not queued", "error", err)
		}
	}
}
