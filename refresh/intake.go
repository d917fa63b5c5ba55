package refresh

import (
	"context"
	"fmt"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
)

// Deduper remembers what was accepted recently. First reports whether key
// is new and marks it seen; Forget unmarks it (the event was not held after
// all, so Contentful's retry must not be answered "duplicate").
type Deduper interface {
	First(ctx context.Context, key string) (bool, error)
	Forget(ctx context.Context, key string)
}

// Recorder records an event's line (EventLog.Add).
type Recorder interface {
	Add(r Record)
}

// IntakeOptions configure what the intake accepts.
type IntakeOptions struct {
	Space       string // payloads for another space are ignored
	Environment string // payloads for another environment are ignored
	Collections Collections
	// Busy reports a collection with a refresh under way (Engine.Busy).
	Busy func(cache.Collection) bool
	// Follows, when it reports true, says another process (the Redis
	// leader) processes events: a change that affects nothing served here
	// is passed on rather than ignored, since the leader's content may be
	// newer.
	Follows func() bool
}

// Intake decides what a webhook delivery means: whether it changes
// delivered content, which collections it affects, whether it repeats one
// accepted recently; and queues it. Handlers parse the HTTP request and
// render the Receipt; every decision is here.
type Intake struct {
	store  interface{ Load() *cache.Snapshot }
	queue  Enqueuer
	dedup  Deduper
	events Recorder // duplicates and ignored calls are logged too; may be nil
	opts   IntakeOptions
	now    func() time.Time
}

// NewIntake returns the intake over the served store, the queue and the
// deduplication it uses.
func NewIntake(store interface{ Load() *cache.Snapshot }, queue Enqueuer, dedup Deduper, events Recorder, opts IntakeOptions) *Intake {
	return &Intake{store: store, queue: queue, dedup: dedup, events: events, opts: opts, now: time.Now}
}

// Delivery is one webhook call as the handler read it.
type Delivery struct {
	Topic contentful.Topic
	// Body is the raw, authenticated request body.
	Body []byte
	// IdempotencyKey is X-Contentful-Idempotency-Key ("" when absent).
	IdempotencyKey string
}

// Receipt is the intake's answer: Accepted (queued as EventID), Duplicate or
// Ignored (with a Reason).
type Receipt struct {
	Outcome     Outcome
	EventID     string
	Collections []cache.Collection
	Reason      string
	// Event is what was understood of the delivery, for the log line.
	Event Event
}

// Accepted is a Receipt's outcome for a delivery that was queued.
const Accepted Outcome = "accepted"

// Receive decides and queues one delivery. Errors: a body that is not the
// topic's Contentful entity wraps contentful.ErrPayload; ErrQueueFull,
// ErrUnavailable or a Deduper's error when the event could not be held
// (Contentful retries the 503 it becomes).
func (in *Intake) Receive(ctx context.Context, d Delivery) (Receipt, error) {
	if !d.Topic.Triggers() {
		return in.answer(Event{Topic: d.Topic.String()}, Ignored, d.Topic.String()+" does not change delivered content"), nil
	}
	ch, err := contentful.ParseChange(d.Topic, d.Body)
	if err != nil {
		return Receipt{}, err
	}
	seen := Event{Topic: d.Topic.String(), Action: d.Topic.Action, Entity: ch.Ref(), ContentType: ch.ContentType,
		Revision: ch.Revision, DeletedAt: ch.DeletedAt, CreatedAt: ch.CreatedAt}
	if ch.Space != "" && in.opts.Space != "" && ch.Space != in.opts.Space {
		return in.answer(seen, Ignored, "the payload is for space "+ch.Space+", folio serves "+in.opts.Space), nil
	}
	if ch.Environment != "" && in.opts.Environment != "" && ch.Environment != in.opts.Environment {
		return in.answer(seen, Ignored, "the payload is for environment "+ch.Environment+", folio serves "+in.opts.Environment), nil
	}
	cols := Affected(ch, in.opts.Collections, in.store.Load(), in.opts.Busy)
	if len(cols) == 0 && (in.opts.Follows == nil || !in.opts.Follows()) {
		return in.answer(seen, Ignored, "nothing folio serves contains "+string(ch.Ref())), nil
	}

	// Contentful's idempotency key names one delivery; without it, one
	// action on one revision of one incarnation is one change (an entry
	// deleted and re-created starts again at revision 1).
	key := d.IdempotencyKey
	if key == "" {
		key = fmt.Sprintf("%s:%s:%d:%s%s", ch.Ref(), d.Topic.Action, ch.Revision, ch.CreatedAt, ch.DeletedAt)
	}
	first, err := in.dedup.First(ctx, key)
	if err != nil {
		return Receipt{}, err
	}
	if !first {
		return in.answer(seen, Duplicate, "this change was accepted recently"), nil
	}
	ev := seen
	ev.ID, ev.Collections, ev.ReceivedAt = NewEventID(), cols, in.now().UTC()
	if err := in.queue.Enqueue(ctx, ev); err != nil {
		in.dedup.Forget(context.WithoutCancel(ctx), key)
		return Receipt{}, err
	}
	return Receipt{Outcome: Accepted, EventID: ev.ID, Collections: cols, Event: ev}, nil
}

// answer is a receipt for a delivery that queues nothing, logged.
func (in *Intake) answer(ev Event, o Outcome, reason string) Receipt {
	ev.ID = NewEventID()
	ev.ReceivedAt = in.now().UTC()
	if in.events != nil {
		in.events.Add(Record{Event: ev, Outcome: o, Error: reason, FinishedAt: ev.ReceivedAt})
	}
	return Receipt{Outcome: o, Reason: reason, Event: ev}
}
