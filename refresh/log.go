package refresh

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Outcome is how an event ended.
type Outcome string

// The outcomes. Pending and retrying are states on the way to one of the
// others.
const (
	Pending   Outcome = "pending"
	Retrying  Outcome = "retrying" // fetch failed or the CDN still lags; polling
	Done      Outcome = "done"
	Duplicate Outcome = "duplicate"
	Ignored   Outcome = "ignored"
	Failed    Outcome = "failed" // the CDN never served the revision within the bound
	Dead      Outcome = "dead"   // the Delivery API kept failing: a dead letter
)

// Final reports whether the outcome ends the event.
func (o Outcome) Final() bool { return o != Pending && o != Retrying }

// Record is one event's line in the log (and on /status).
type Record struct {
	Event
	Attempts   int       `json:"attempts"`
	Outcome    Outcome   `json:"outcome"`
	Error      string    `json:"error,omitempty"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	// DurationMillis is received-to-served (or to giving up).
	DurationMillis int64 `json:"durationMillis"`
	// Snapshots are the ETags of the collections it produced.
	Snapshots map[string]string `json:"snapshots,omitempty"`
	// SupersededBy, on an event done, names what overtook it: a later
	// event for the same entity (its id) that the served content shows, or
	// "revision N" for a removal followed by a republish. The event's own
	// change is no longer what is served, and rightly so.
	SupersededBy string `json:"supersededBy,omitempty"`
	// Replays counts how often an operator replayed it.
	Replays int `json:"replays,omitempty"`
	// Persisted is false when a snapshot it produced could not be stored
	// (Redis): its durable queue entry stays unacknowledged, to be redone.
	Persisted bool `json:"persisted"`
	// UpdatedAt is when the record last changed (UTC, microseconds), by
	// the clock of the process that changed it. It only grows for one
	// record in one process, and a shared history keeps, of two writes of
	// one record, the one with the later UpdatedAt (redisstate.History).
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// EventLog keeps the most recent events and the dead letters of this
// process in memory, within a Retention (by count and by age). A Mirror,
// when set, is told of every change: the shared history (Redis) keeps what
// every replica writes.
type EventLog struct {
	mu      sync.Mutex
	keep    Retention
	now     func() time.Time
	mirror  Mirror
	order   []string           // ids, oldest first, at most keep.Events
	records map[string]*Record // by id, for the ids in order
	dead    []*Record          // newest last, at most keep.Events
}

// NewEventLog keeps up to keep.Events events and as many dead letters, none
// older than keep.MaxAge (an event by its ReceivedAt, a dead letter by
// when it died); a zero MaxAge keeps them whatever their age, and Events
// below 1 means 200.
func NewEventLog(keep Retention) *EventLog {
	if keep.Events < 1 {
		keep.Events = 200
	}
	return &EventLog{keep: keep, now: time.Now, records: map[string]*Record{}}
}

// SetMirror makes m told of every change from now on. m's methods are
// called with the log's lock held, in the order of the changes: they must
// not block or call back into the log.
func (l *EventLog) SetMirror(m Mirror) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.mirror = m
}

// Retention is what the log keeps.
func (l *EventLog) Retention() Retention { return l.keep }

// stamp sets r.UpdatedAt to now, or just after the time it holds when the
// clock has not moved past it, so that a record's changes are ordered.
func (l *EventLog) stamp(r *Record, was time.Time) {
	t := l.now().UTC().Truncate(time.Microsecond)
	if !t.After(was) {
		t = was.Add(time.Microsecond)
	}
	r.UpdatedAt = t
}

// changed stamps r and tells the mirror; l.mu is held.
func (l *EventLog) changed(r *Record, was time.Time) {
	l.stamp(r, was)
	if l.mirror != nil {
		l.mirror.Put(*r)
	}
}

// Add records a new event, evicting the oldest.
func (l *EventLog) Add(r Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.add(r)
}

func (l *EventLog) add(r Record) {
	if old, ok := l.records[r.ID]; ok {
		was := old.UpdatedAt
		*old = r
		l.changed(old, was)
		return
	}
	l.prune()
	if len(l.order) >= l.keep.Events {
		delete(l.records, l.order[0])
		l.order = l.order[1:]
	}
	l.order = append(l.order, r.ID)
	l.records[r.ID] = &r
	l.changed(&r, r.UpdatedAt)
}

// prune drops the events and dead letters past the age bound; l.mu is held.
func (l *EventLog) prune() {
	if l.keep.MaxAge <= 0 {
		return
	}
	oldest := l.now().Add(-l.keep.MaxAge)
	l.order = slices.DeleteFunc(l.order, func(id string) bool {
		if l.records[id].ReceivedAt.Before(oldest) {
			delete(l.records, id)
			return true
		}
		return false
	})
	l.dead = slices.DeleteFunc(l.dead, func(d *Record) bool { return d.UpdatedAt.Before(oldest) })
}

// Begin records an event being dispatched: a new line, or, for an event
// seen before (a replay, a redelivery), the same line reset to pending with
// its replay count kept. An event replayed (Event.Replay) counts at least
// that many replays, whichever process replayed it. An event dispatched
// again is no longer a dead letter here (another replica may have taken
// its dead letter for the replay).
func (l *EventLog) Begin(ev Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dead = slices.DeleteFunc(l.dead, func(d *Record) bool { return d.ID == ev.ID })
	if r, ok := l.records[ev.ID]; ok {
		was := r.UpdatedAt
		*r = Record{Event: ev, Outcome: Pending, Replays: max(r.Replays, ev.Replay)}
		l.changed(r, was)
		return
	}
	l.add(Record{Event: ev, Outcome: Pending, Replays: ev.Replay})
}

// Update changes a recorded event in place; a no-op for evicted events.
func (l *EventLog) Update(id string, fn func(r *Record)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.records[id]; ok {
		was, wasOutcome := r.UpdatedAt, r.Outcome
		fn(r)
		l.changed(r, was)
		if r.Outcome == Dead && wasOutcome != Dead {
			l.addDead(*r)
		}
	}
}

// AddDead records a dead letter even if the event left the ring.
func (l *EventLog) AddDead(r Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stamp(&r, r.UpdatedAt)
	l.addDead(r)
}

func (l *EventLog) addDead(r Record) {
	l.prune()
	l.dead = slices.DeleteFunc(l.dead, func(d *Record) bool { return d.ID == r.ID })
	if len(l.dead) >= l.keep.Events {
		l.dead = l.dead[1:]
	}
	l.dead = append(l.dead, &r)
	if l.mirror != nil {
		l.mirror.PutDead(r)
	}
}

// Recent returns up to n events, newest first.
func (l *EventLog) Recent(n int) []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune()
	out := make([]Record, 0, max(0, min(n, len(l.order))))
	for i := len(l.order) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, *l.records[l.order[i]])
	}
	return out
}

// Get returns one recorded event.
func (l *EventLog) Get(id string) (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.records[id]; ok {
		return *r, true
	}
	return Record{}, false
}

// Dead returns one dead letter.
func (l *EventLog) Dead(id string) (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.dead {
		if d.ID == id {
			return *d, true
		}
	}
	return Record{}, false
}

// DeadLetters returns the dead letters, newest first.
func (l *EventLog) DeadLetters() []Record { return l.newestDead(l.keep.Events) }

// newestDead returns up to n dead letters, newest first.
func (l *EventLog) newestDead(n int) []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune()
	out := make([]Record, 0, max(0, min(n, len(l.dead))))
	for i := len(l.dead) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, *l.dead[i])
	}
	return out
}

// DeadLetterCount is how many dead letters the log keeps.
func (l *EventLog) DeadLetterCount(_ context.Context) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune()
	return len(l.dead)
}

// Read returns up to events events and every dead letter, from memory.
func (l *EventLog) Read(ctx context.Context, events int) View {
	return l.ReadUpTo(ctx, events, l.keep.Events)
}

// ReadUpTo returns up to events events and dead dead letters, the newest,
// from memory.
func (l *EventLog) ReadUpTo(_ context.Context, events, dead int) View {
	return View{Source: SourceMemory, Retention: l.keep, Events: l.Recent(events), DeadLetters: l.newestDead(dead)}
}

// TakeDead removes and returns a dead letter, for a replay; found is false
// when no dead letter has that id. It never fails.
func (l *EventLog) TakeDead(_ context.Context, id string) (r Record, found bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, d := range l.dead {
		if d.ID == id {
			l.dead = slices.Delete(l.dead, i, i+1)
			return *d, true, nil
		}
	}
	return Record{}, false, nil
}
