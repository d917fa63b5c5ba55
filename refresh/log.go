package refresh

import (
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
}

// EventLog keeps the most recent events (a ring) and the dead letters, both
// bounded in memory.
type EventLog struct {
	mu      sync.Mutex
	size    int
	order   []string           // ids, oldest first, at most size
	records map[string]*Record // by id, for the ids in order
	dead    []*Record          // newest last, at most size
}

// NewEventLog keeps size events and size dead letters.
func NewEventLog(size int) *EventLog {
	return &EventLog{size: size, records: map[string]*Record{}}
}

// Add records a new event, evicting the oldest.
func (l *EventLog) Add(r Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.records[r.ID]; ok {
		*l.records[r.ID] = r
		return
	}
	if len(l.order) >= l.size {
		delete(l.records, l.order[0])
		l.order = l.order[1:]
	}
	l.order = append(l.order, r.ID)
	l.records[r.ID] = &r
}

// Begin records an event being dispatched: a new line, or, for an event
// seen before (a replay, a redelivery), the same line reset to pending with
// its replay count kept.
func (l *EventLog) Begin(ev Event) {
	l.mu.Lock()
	if r, ok := l.records[ev.ID]; ok {
		replays := r.Replays
		*r = Record{Event: ev, Outcome: Pending, Replays: replays}
		l.mu.Unlock()
		return
	}
	l.mu.Unlock()
	l.Add(Record{Event: ev, Outcome: Pending})
}

// Update changes a recorded event in place; a no-op for evicted events.
func (l *EventLog) Update(id string, fn func(r *Record)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r, ok := l.records[id]; ok {
		was := r.Outcome
		fn(r)
		if r.Outcome == Dead && was != Dead {
			l.addDead(*r)
		}
	}
}

// AddDead records a dead letter even if the event left the ring.
func (l *EventLog) AddDead(r Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.addDead(r)
}

func (l *EventLog) addDead(r Record) {
	l.dead = slices.DeleteFunc(l.dead, func(d *Record) bool { return d.ID == r.ID })
	if len(l.dead) >= l.size {
		l.dead = l.dead[1:]
	}
	l.dead = append(l.dead, &r)
}

// Recent returns up to n events, newest first.
func (l *EventLog) Recent(n int) []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Record, 0, min(n, len(l.order)))
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

// DeadLetters returns the dead letters, newest first.
func (l *EventLog) DeadLetters() []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Record, 0, len(l.dead))
	for i := len(l.dead) - 1; i >= 0; i-- {
		out = append(out, *l.dead[i])
	}
	return out
}

// TakeDead removes and returns a dead letter, for a replay.
func (l *EventLog) TakeDead(id string) (Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, d := range l.dead {
		if d.ID == id {
			l.dead = slices.Delete(l.dead, i, i+1)
			return *d, true
		}
	}
	return Record{}, false
}
