package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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
	// LogSize bounds the event log and the dead letters (default 200).
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
	e := &Engine{loader: loader, opts: opts, log: log, events: NewEventLog(opts.LogSize),
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

// Log is the engine's event log.
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
		removals := map[contentful.Ref]Removal{}
		for _, t := range batch {
			if t.ev.Force {
				mode = Force
			}
			if t.ev.Action.Removes() && t.ev.Revision > 0 && t.ev.Revision >= removals[t.ev.Entity].Revision {
				removals[t.ev.Entity] = Removal{Revision: t.ev.Revision, DeletedAt: t.ev.DeletedAt, At: t.ev.ReceivedAt}
			}
		}
		applied, err = e.loader.apply(ctx, w.col, fetched, mode, removals)
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
	w.mu.Lock()
	if len(applied.Stale) > 0 {
		w.rechecks++
		// Poll with backoff, but no later than the moment the lag bound
		// settles every stale entity.
		w.recheck = earliest(now.Add(e.backoff(w.rechecks)), applied.Settled.Add(settleMargin))
		e.log.Info("collection kept stale entities' served versions; fetching it again", "collection", string(w.col),
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

func (w *worker) scheduleRecheck(at time.Time) {
	w.mu.Lock()
	if w.recheck.IsZero() || at.Before(w.recheck) {
		w.recheck = at
	}
	w.mu.Unlock()
}

// reflected reports whether the served part shows an event's change, or
// that the change was overtaken: a later event for the same entity that the
// part shows (by names it), or, for a removal, the entity republished at a
// higher revision.
func (e *Engine) reflected(t *task, col cache.Collection, served *cache.Part) (ok bool, by string) {
	if served == nil {
		return false, ""
	}
	if shows(t.ev, col, served, e.loader.cols) {
		return true, ""
	}
	if t.ev.Action.Removes() {
		if rev := served.Refs[t.ev.Entity]; t.ev.Revision > 0 && rev > t.ev.Revision {
			return true, fmt.Sprintf("revision %d", rev)
		}
		if m := served.Marks[t.ev.Entity]; !m.Gone && incarnation(m.CreatedAt, t.ev.DeletedAt) == 1 {
			return true, "re-created at " + m.CreatedAt // what was deleted is gone; this is another entry
		}
	}
	for _, later := range e.later(t) {
		if overtakes(later, t.ev) && shows(later, col, served, e.loader.cols) {
			return true, later.ID
		}
	}
	return false, ""
}

// overtakes reports whether a later event's change, once served, makes an
// earlier one's moot: a removal at or after a publish's revision (or of
// unknown revision), unless the publish is of an entry created after that
// deletion; or a publish at another revision than a removal's (a higher
// one republishes, a lower one re-creates the entry) or of an entry created
// after it. A webhook that came later but names an earlier revision
// (Contentful does not promise order) overtakes nothing.
func overtakes(later, ev Event) bool {
	switch {
	case later.Action.Removes() && !ev.Action.Removes():
		if incarnation(ev.CreatedAt, later.DeletedAt) == 1 {
			return false // the publish is of an entry created after that deletion
		}
		return later.Revision == 0 || later.Revision >= ev.Revision
	case !later.Action.Removes() && ev.Action.Removes():
		return ev.Revision == 0 || later.Revision != ev.Revision || incarnation(later.CreatedAt, ev.DeletedAt) == 1
	}
	return false // same kind: the later one's being served shows the earlier's only if its own check does
}

// shows reports whether part shows the event's own change: a publish at
// sys.revision >= the webhook's, or a removal gone.
func shows(ev Event, col cache.Collection, part *cache.Part, cols Collections) bool {
	if ev.Full || ev.Revision == 0 && !ev.Action.Removes() {
		return true
	}
	rev, linked := part.Refs[ev.Entity]
	if ev.Action.Removes() {
		// Gone, or still linked but rendered as null.
		return !linked || rev == 0
	}
	if linked {
		// rev 0 is a link that does not resolve yet: the CDN still lags.
		return rev >= ev.Revision
	}
	// Absent after a publish: an entry of this collection's own types must
	// appear (the CDN lags); a linked entity that is no longer linked has
	// nothing left to show.
	return !ownType(ev, col, cols)
}

// sight records a dispatched event under its entity and numbers it.
func (e *Engine) sight(ev Event, now time.Time) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	if ev.Entity != "" {
		keep := e.recent[ev.Entity][:0:0]
		for _, s := range e.recent[ev.Entity] {
			if now.Sub(s.ev.ReceivedAt) < 2*e.opts.WaitBound {
				keep = append(keep, s)
			}
		}
		e.recent[ev.Entity] = append(keep, sighting{seq: e.seq, ev: ev})
	}
	return e.seq
}

// later returns the events for t's entity dispatched after t.
func (e *Engine) later(t *task) []Event {
	if t.ev.Entity == "" {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, s := range e.recent[t.ev.Entity] {
		if s.seq > t.seq {
			out = append(out, s.ev)
		}
	}
	return out
}

// dropStaleSightings forgets entities whose events are all older than two
// wait bounds: nothing still waiting can be overtaken by them.
func (e *Engine) dropStaleSightings(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for ref, ss := range e.recent {
		if now.Sub(ss[len(ss)-1].ev.ReceivedAt) >= 2*e.opts.WaitBound {
			delete(e.recent, ref)
		}
	}
}

// settle ends one collection's part of an event; the event's final outcome
// is the worst of its collections'.
func (e *Engine) settle(t *task, col cache.Collection, o Outcome, errMsg, supersededBy string, snap *cache.Snapshot) {
	e.mu.Lock()
	in := t.in
	in.remaining--
	if rank(o) > rank(in.outcome) {
		in.outcome, in.errMsg = o, errMsg
	}
	if supersededBy != "" {
		in.supersededBy = supersededBy
	}
	last := in.remaining == 0
	e.mu.Unlock()

	if p := snap.Part(col); p != nil {
		etag := p.Root.ETag()
		e.events.Update(t.ev.ID, func(r *Record) {
			// Copy on write: /status may be encoding the old map.
			m := maps.Clone(r.Snapshots)
			if m == nil {
				m = map[string]string{}
			}
			m[string(col)] = etag
			r.Snapshots = m
		})
	}
	if last {
		e.finish(t.ev, in)
	}
}

func rank(o Outcome) int {
	switch o {
	case Dead:
		return 3
	case Failed:
		return 2
	}
	return 1
}

// finish records an event's final outcome and reports it.
func (e *Engine) finish(ev Event, in *inflight) {
	now := e.opts.Clock.Now()
	e.mu.Lock()
	o, errMsg, persisted, by := in.outcome, in.errMsg, !in.unstored, in.supersededBy
	e.mu.Unlock()
	var final Record
	found := false
	e.events.Update(ev.ID, func(r *Record) {
		r.Outcome, r.Error, r.FinishedAt, r.Persisted, r.SupersededBy = o, errMsg, now.UTC(), persisted, by
		r.DurationMillis = now.Sub(r.ReceivedAt).Milliseconds()
		final, found = *r, true
	})
	if !found {
		final = Record{Event: ev, Outcome: o, Error: errMsg, FinishedAt: now.UTC(), Persisted: persisted, SupersededBy: by}
		e.events.Add(final)
		if o == Dead {
			e.events.AddDead(final)
		}
	}
	level := slog.LevelInfo
	if o == Dead || o == Failed {
		level = slog.LevelError
	}
	e.log.Log(context.Background(), level, "event finished", "event", ev.ID, "topic", ev.Topic, "entity", string(ev.Entity),
		"revision", ev.Revision, "outcome", string(o), "superseded_by", by, "millis", final.DurationMillis, "error", errMsg)
	if e.opts.OnFinal != nil {
		e.opts.OnFinal(final)
	}
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

// Enqueuer holds events for the engine (the queue it consumes).
type Enqueuer interface {
	Enqueue(ctx context.Context, e Event) error
}

// ErrNoDeadLetter means no dead letter has that id.
var ErrNoDeadLetter = errors.New("refresh: no dead letter has that id")

// Replay puts a dead letter back on the queue, with a fresh wait bound.
func (e *Engine) Replay(ctx context.Context, q Enqueuer, id string) (Event, error) {
	rec, ok := e.events.TakeDead(id)
	if !ok {
		return Event{}, ErrNoDeadLetter
	}
	ev := rec.Event
	ev.ReceivedAt = e.opts.Clock.Now().UTC()
	if err := q.Enqueue(ctx, ev); err != nil {
		e.events.AddDead(rec) // still dead: nothing was replayed
		return Event{}, err
	}
	e.events.Update(ev.ID, func(r *Record) { r.Replays = rec.Replays + 1 })
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
func (e *Engine) CatchUp(ctx context.Context, q Enqueuer, reason string) error {
	if _, err := e.RefreshAll(ctx, q, reason); err != nil {
		return err
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

// ownType reports whether the event's entity is an entry of one of the
// collection's own content types.
func ownType(ev Event, col cache.Collection, cols Collections) bool {
	if ev.ContentType == "" {
		return false
	}
	if col == cache.Blog {
		return ev.ContentType == cols.BlogType
	}
	return slices.Contains(cols.CVTypes, ev.ContentType)
}
