package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
)

// EngineOptions tune the engine; zero values take the defaults.
type EngineOptions struct {
	// MinInterval spaces a fetch from the one before when events arrived
	// while that one ran: a burst of webhooks (a bulk publish) becomes one
	// fetch plus one trailing fetch, while an event that finds the worker
	// idle is fetched at once (default 1s).
	MinInterval time.Duration
	// WaitBound is how long an event may wait for the Delivery API to serve
	// its revision (CDN lag) before it is recorded as failed (default 2m).
	WaitBound time.Duration
	// Attempts bounds fetches that fail (5xx, 429, timeouts, malformed data:
	// each already retried inside the client) before the event becomes a
	// dead letter (default 4).
	Attempts int
	// BaseDelay and MaxDelay shape the backoff between polls and retries
	// (defaults 1s and 15s).
	BaseDelay, MaxDelay time.Duration
	// Events is where the engine records events (default: a new EventLog
	// of LogSize events); DeadLetters where Replay takes a dead letter
	// from (default: Events), the shared history when there is one.
	Events      *EventLog
	DeadLetters DeadLetterTaker
	// LogSize bounds a default Events (default 200).
	LogSize int
	Clock   Clock
	// OnFinal is called once per event with its final record (a durable
	// queue acknowledges there).
	OnFinal func(Record)
}

func (o EngineOptions) withDefaults() EngineOptions {
	if o.MinInterval <= 0 {
		o.MinInterval = time.Second
	}
	if o.WaitBound <= 0 {
		o.WaitBound = 2 * time.Minute
	}
	if o.Attempts <= 0 {
		o.Attempts = 4
	}
	if o.BaseDelay <= 0 {
		o.BaseDelay = time.Second
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 15 * time.Second
	}
	if o.LogSize <= 0 {
		o.LogSize = 200
	}
	if o.Events == nil {
		o.Events = NewEventLog(Retention{Events: o.LogSize})
	}
	if o.DeadLetters == nil {
		o.DeadLetters = o.Events
	}
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	return o
}

// Engine turns events into snapshots. Each collection has one worker, so a
// collection is never fetched twice at once; events that arrive while it
// fetches wait for the next fetch (a fetch that started before an event never
// counts as having handled it).
type Engine struct {
	loader *Loader
	opts   EngineOptions
	log    *slog.Logger
	events *EventLog
	cols   map[cache.Collection]*worker

	mu sync.Mutex // guards every inflight's fields, seq and recent
	// seq numbers dispatches, so an event knows which came after it.
	seq uint64
	// recent holds, per entity, the events dispatched for it within the
	// last two wait bounds: what may overtake a waiting event.
	recent map[contentful.Ref][]sighting
}

// sighting is one dispatched event of an entity.
type sighting struct {
	seq uint64
	ev  Event
}

// inflight follows one dispatch of an event across the collections it
// affects. Each task holds its own, so a second dispatch of the same event
// id (a redelivery) never corrupts the first one's count.
type inflight struct {
	remaining int
	outcome   Outcome
	errMsg    string
	// unstored is set when a snapshot the event produced could not be
	// persisted: a durable queue must then not acknowledge it.
	unstored bool
	// supersededBy names what overtook the event, when it was.
	supersededBy string
}

// worker is one collection's state.
type worker struct {
	col     cache.Collection
	mu      sync.Mutex
	pending []*task
	wake    chan struct{}
	fetches int // started fetches, for tests
	// fetching is true while the Delivery API is being read; burst records
	// that an event arrived meanwhile, so the trailing fetch waits out
	// MinInterval.
	fetching bool
	burst    bool
	// recheck, when set, is when the collection must be fetched again
	// although no event waits: an install kept the served version of a
	// stale entity, and the lag bound will settle it.
	recheck  time.Time
	rechecks int
}

// task is one event waiting in one collection.
type task struct {
	ev        Event
	seq       uint64
	in        *inflight
	attempts  int // failed fetches
	polls     int // fetches that did not show the revision yet
	notBefore time.Time
	deadline  time.Time
}

// NewEngine returns an engine that fetches and installs through loader.
func NewEngine(loader *Loader, opts EngineOptions, log *slog.Logger) *Engine {
	opts = opts.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{loader: loader, opts: opts, log: log, events: opts.Events,
		cols: map[cache.Collection]*worker{}, recent: map[contentful.Ref][]sighting{}}
	// The revision rule's lag bound is the events' wait bound: both are
	// how long the CDN may lag (FOLIO_CDN_WAIT).
	loader.rule = Rule{Bound: opts.WaitBound}
	loader.clock = opts.Clock
	for _, c := range []cache.Collection{cache.CV, cache.Blog} {
		e.cols[c] = &worker{col: c, wake: make(chan struct{}, 1)}
	}
	return e
}

// Log is the engine's event log: this process's records.
func (e *Engine) Log() *EventLog { return e.events }

// Fetches returns how many fetches a collection's worker has started.
func (e *Engine) Fetches(c cache.Collection) int {
	w := e.cols[c]
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fetches
}

// Busy reports whether a collection has a fetch running or events waiting:
// a change to an entity its pending content may come to link must not be
// dismissed as unserved.
func (e *Engine) Busy(c cache.Collection) bool {
	w, ok := e.cols[c]
	if !ok {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fetching || len(w.pending) > 0 || !w.recheck.IsZero()
}

// affected works out an event's collections from what this engine serves
// and is working on: see Affected, plus every busy collection, whose
// coming content may link the entity by the time its fetch ends.
func (e *Engine) affected(ev Event) []cache.Collection {
	kind, id, _ := strings.Cut(string(ev.Entity), ":")
	return Affected(contentful.Change{Kind: kind, ID: id, ContentType: ev.ContentType}, e.loader.cols, e.loader.store.Load(), e.Busy)
}

// Run consumes events until ctx ends or events closes.
func (e *Engine) Run(ctx context.Context, events <-chan Event) {
	var wg sync.WaitGroup
	for _, w := range e.cols {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.work(ctx, w)
		}()
	}
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			e.Dispatch(ev)
		}
	}
}

// Dispatch hands an event to its collections' workers.
func (e *Engine) Dispatch(ev Event) {
	now := e.opts.Clock.Now()
	cols := ev.Collections
	if ev.Full {
		cols = []cache.Collection{cache.CV, cache.Blog}
	} else if ev.Entity != "" {
		// The collections are worked out again here, from what this
		// engine serves and works on now: the replica that took the webhook
		// may have had older content, or none it knew to be affected.
		for _, c := range e.affected(ev) {
			if !slices.Contains(cols, c) {
				cols = append(cols, c)
			}
		}
		ev.Collections = cols
	}
	var valid []*worker
	for _, c := range cols {
		if w, ok := e.cols[c]; ok {
			valid = append(valid, w)
		}
	}
	if len(valid) == 0 {
		e.finish(ev, &inflight{outcome: Ignored, errMsg: "no collection to refresh"})
		return
	}
	in := &inflight{remaining: len(valid), outcome: Done}
	seq := e.sight(ev, now)
	e.events.Begin(ev)
	for _, w := range valid {
		w.mu.Lock()
		w.pending = append(w.pending, &task{ev: ev, seq: seq, in: in, notBefore: now, deadline: ev.ReceivedAt.Add(e.opts.WaitBound)})
		w.burst = w.burst || w.fetching
		w.mu.Unlock()
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// work is one collection's loop: wait until some task is due (and the
// minimum interval since the last fetch has passed), take every pending task,
// fetch once, and settle each task against what that fetch returned.
func (e *Engine) work(ctx context.Context, w *worker) {
	var lastStart time.Time
	for {
		// Pending work is read below; a wake-up sent for it is stale now.
		select {
		case <-w.wake:
		default:
		}
		due, ok := w.nextDue()
		if !ok {
			e.dropStaleSightings(e.opts.Clock.Now())
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
				continue
			}
		}
		if w.inBurst() {
			due = latest(due, lastStart.Add(e.opts.MinInterval))
		}
		if wait := due.Sub(e.opts.Clock.Now()); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-w.wake:
				continue // an earlier task may be due now
			case <-e.opts.Clock.After(wait):
			}
		}
		batch, recheck := w.take(e.opts.Clock.Now())
		if len(batch) == 0 && !recheck {
			continue
		}
		lastStart = e.opts.Clock.Now()
		w.mu.Lock()
		w.fetches++
		w.fetching, w.burst = true, false
		w.mu.Unlock()
		e.fetchAndSettle(ctx, w, batch, recheck)
		if ctx.Err() != nil {
			return
		}
	}
}

func (w *worker) inBurst() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.burst
}

func (w *worker) nextDue() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	due, ok := w.recheck, !w.recheck.IsZero()
	for _, t := range w.pending {
		if !ok || t.notBefore.Before(due) {
			due, ok = t.notBefore, true
		}
	}
	return due, ok
}

// take returns every pending task, and whether a recheck is due.
func (w *worker) take(now time.Time) ([]*task, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	batch := w.pending
	w.pending = nil
	recheck := !w.recheck.IsZero() && !now.Before(w.recheck)
	if recheck {
		w.recheck = time.Time{} // this fetch does it; the install says if another is needed
	}
	return batch, recheck
}

func (w *worker) requeue(t *task) {
	w.mu.Lock()
	w.pending = append(w.pending, t)
	w.mu.Unlock()
}

func (e *Engine) fetchAndSettle(ctx context.Context, w *worker, batch []*task, recheck bool) {
	release := e.loader.exclusive(w.col) // not beside the first load's whole fetch
	defer release()
	// A batch of webhooks fetches what changed; the safety, forced and
	// catch-up refreshes and a recheck of stale entities fetch it all.
	whole := recheck || len(batch) == 0
	var changed []contentful.Ref
	for _, t := range batch {
		if t.ev.Full || t.ev.Entity == "" {
			whole = true
		} else if !slices.Contains(changed, t.ev.Entity) {
			changed = append(changed, t.ev.Entity)
		}
	}
	fetched, err := e.loader.fetchFor(ctx, w.col, changed, whole)
	// The fetch is over: an event from here on is not part of a burst that
	// arrived while the Delivery API was being read.
	w.mu.Lock()
	w.fetching = false
	w.mu.Unlock()
	var applied Applied
	if err == nil {
		mode := Newer
		// What removal webhooks said, this batch's and any collection's
		// within the bound: a lagging answer may hold an entity another
		// collection's event removed (a profile now linking a post just
		// unpublished).
		removals := e.recentRemovals(e.opts.Clock.Now())
		for _, t := range batch {
			if t.ev.Force {
				mode = Force
			}
			if was, seen := removals[t.ev.Entity]; t.ev.Action.Removes() && (!seen || t.ev.Revision >= was.Revision) {
				removals[t.ev.Entity] = Removal{Revision: t.ev.Revision, DeletedAt: t.ev.DeletedAt, At: t.ev.ReceivedAt}
			}
		}
		applied, err = e.loader.apply(ctx, w.col, fetched, mode, removals)
		if errors.Is(err, ErrIncomplete) {
			e.log.Info("an incremental fetch left links unresolved; fetching the whole collection", "collection", string(w.col))
			if fetched, err = e.loader.fetchCollection(ctx, w.col); err == nil {
				applied, err = e.loader.apply(ctx, w.col, fetched, mode, removals)
			}
		}
	}
	now := e.opts.Clock.Now()
	if err != nil {
		if ctx.Err() != nil {
			// Shutting down: the events stay unfinished (a durable queue
			// redelivers them), and nothing is recorded as failed.
			return
		}
		e.loader.failed(w.col, err)
		if recheck {
			w.mu.Lock()
			w.rechecks++
			n := w.rechecks
			w.mu.Unlock()
			w.scheduleRecheck(now.Add(e.backoff(n)))
		}
		for _, t := range batch {
			t.attempts++
			if t.attempts >= e.opts.Attempts {
				e.settle(t, w.col, Dead, err.Error(), "", nil)
				continue
			}
			t.notBefore = now.Add(e.backoff(t.attempts))
			e.events.Update(t.ev.ID, func(r *Record) { r.Outcome, r.Attempts, r.Error = Retrying, r.Attempts+1, err.Error() })
			w.requeue(t)
		}
		return
	}
	// A link left unresolved to an entity a webhook said was published
	// within the bound is a lagging answer too (the entity may have been
	// settled before anything linked it).
	settled, again := applied.Settled, len(applied.Stale) > 0
	if by, ok := e.awaited(applied.Snapshot.Part(w.col), now); ok {
		settled, again = latest(settled, by), true
	}
	w.mu.Lock()
	if again {
		w.rechecks++
		// Poll with backoff, but no later than the moment the lag bound
		// settles every stale entity.
		w.recheck = earliest(now.Add(e.backoff(w.rechecks)), settled.Add(settleMargin))
		e.log.Info("collection kept stale entities, or links what is not served yet; fetching it again", "collection", string(w.col),
			"at", w.recheck.UTC().Format(time.RFC3339Nano), "recheck", w.rechecks)
	} else {
		w.rechecks, w.recheck = 0, time.Time{} // nothing stale is left to settle
	}
	w.mu.Unlock()
	served := applied.Snapshot.Part(w.col)
	for _, t := range batch {
		e.events.Update(t.ev.ID, func(r *Record) { r.Attempts++ })
		if ok, by := e.reflected(t, w.col, served); ok {
			if !applied.Stored {
				e.mu.Lock()
				t.in.unstored = true
				e.mu.Unlock()
			}
			e.settle(t, w.col, Done, "", by, applied.Snapshot)
			continue
		}
		if !now.Before(t.deadline) {
			e.settle(t, w.col, Failed, fmt.Sprintf("the Delivery API did not serve %s at revision %d within %s", t.ev.Entity, t.ev.Revision, e.opts.WaitBound), "", nil)
			continue
		}
		t.polls++
		t.notBefore = now.Add(e.backoff(t.polls))
		e.events.Update(t.ev.ID, func(r *Record) {
			r.Outcome, r.Error = Retrying, "waiting for the Delivery API to serve the new revision"
		})
		w.requeue(t)
	}
}

// awaited reports whether part links an entity a publish webhook named
// within the lag bound, unresolved or older than that webhook said (a
// lower revision, or an earlier incarnation), and when that bound ends.
// The webhook may have named other collections only: a profile published
// to link a post just republished, answered by an edge that has the
// profile and not the republish yet.
func (e *Engine) awaited(part *cache.Part, now time.Time) (until time.Time, ok bool) {
	if part == nil {
		return time.Time{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for ref, rev := range part.Refs {
		for _, s := range e.recent[ref] {
			if s.ev.Action.Removes() || now.Sub(s.ev.ReceivedAt) >= e.opts.WaitBound {
				continue
			}
			if rev == 0 || behind(rev, part.Marks[ref].CreatedAt, s.ev) {
				until, ok = latest(until, s.ev.ReceivedAt.Add(e.opts.WaitBound)), true
			}
		}
	}
	return until, ok
}

// behind reports whether an entity served at rev, created at createdAt, is
// older than a publish webhook said: an earlier incarnation, or the same
// one (or unknown) at a lower revision.
func behind(rev int, createdAt string, publish Event) bool {
	switch incarnation(createdAt, publish.CreatedAt) {
	case -1:
		return true
	case 1:
		return false
	}
	return rev < publish.Revision
}

func (w *worker) scheduleRecheck(at time.Time) {
	w.mu.Lock()
	if w.recheck.IsZero() || at.Before(w.recheck) {
		w.recheck = at
	}
	w.mu.Unlock()
}

// backoff is capped exponential with full jitter.
func (e *Engine) backoff(n int) time.Duration {
	d := e.opts.BaseDelay << min(n-1, 16)
	if d <= 0 || d > e.opts.MaxDelay {
		d = e.opts.MaxDelay
	}
	return d/2 + rand.N(d/2+1)
}

// settleMargin follows the end of a lag bound with the fetch that settles it.
const settleMargin = 10 * time.Millisecond

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
