package refresh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
)

// Event is one accepted change: what the webhook said, and which
// collections it affects (the processing engine adds the ones its own,
// possibly newer, content links; a follower passes on an event with none).
type Event struct {
	ID          string            `json:"id"`
	Topic       string            `json:"topic"`
	Action      contentful.Action `json:"action"`
	Entity      contentful.Ref    `json:"entity"`
	ContentType string            `json:"contentType,omitempty"`
	Revision    int               `json:"revision"`
	// DeletedAt is a removal's sys.deletedAt, CreatedAt a publish's
	// sys.createdAt (its incarnation), when the payload had them.
	DeletedAt   string             `json:"deletedAt,omitempty"`
	CreatedAt   string             `json:"createdAt,omitempty"`
	Collections []cache.Collection `json:"collections"`
	ReceivedAt  time.Time          `json:"receivedAt"`
	// Full marks a refresh of everything asked by an operator or the safety
	// timer rather than by a webhook.
	Full bool `json:"full,omitempty"`
	// Force installs what the Delivery API returns even where it is older
	// than what is served (an operator's refresh).
	Force bool `json:"force,omitempty"`
	// Replay numbers an operator's replay of a dead letter (1 for the
	// first), so that the process that handles it, whichever replica took
	// the replay, counts it in the record's Replays.
	Replay int `json:"replay,omitempty"`
	// StreamID is the event's id in the Redis stream, to acknowledge it once
	// its snapshot is stored; empty for events held in memory.
	StreamID string `json:"streamId,omitempty"`
}

// NewEventID returns a random, URL-safe event id.
func NewEventID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return "evt_" + hex.EncodeToString(b)
}

// ErrQueueFull means the event could not be held; the webhook answers 503 so
// that Contentful retries it.
var ErrQueueFull = errors.New("refresh: the event queue is full")

// ErrUnavailable means the queue's store cannot be reached; the webhook
// answers 503 so that Contentful retries.
var ErrUnavailable = errors.New("refresh: the event queue is unavailable")

// Affected returns the collections a change touches: the collection of the
// entity's own content type, every collection whose served snapshot
// contains the entity through a link (assets included, unresolved links
// too), every collection not loaded yet, and every collection busy reports
// (a fetch under way or work pending: its coming content may link the
// entity by the time the fetch ends). A content type change touches both.
// Nil means nothing served or coming depends on the entity.
func Affected(ch contentful.Change, cols Collections, snap *cache.Snapshot, busy func(cache.Collection) bool) []cache.Collection {
	if ch.Kind == "ContentType" {
		return []cache.Collection{cache.Blog, cache.CV}
	}
	var out []cache.Collection
	add := func(c cache.Collection) {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if ch.Kind == "Entry" {
		switch {
		case ch.ContentType == cols.BlogType:
			add(cache.Blog)
		case slices.Contains(cols.CVTypes, ch.ContentType):
			add(cache.CV)
		}
	}
	ref := ch.Ref()
	for _, c := range []cache.Collection{cache.CV, cache.Blog} {
		p := snap.Part(c)
		if p == nil {
			// Not loaded yet, so its links are unknown: a first load that
			// started before this change must not count as having seen it.
			add(c)
			continue
		}
		if _, ok := p.Refs[ref]; ok {
			add(c)
		}
		if busy != nil && busy(c) {
			add(c)
		}
	}
	slices.Sort(out)
	return out
}

// MemoryQueue holds events in process memory, bounded. It is the embedded
// default; the Redis stream replaces it when REDIS_URL is set.
type MemoryQueue struct {
	ch chan Event
}

// NewMemoryQueue holds up to size events.
func NewMemoryQueue(size int) *MemoryQueue {
	return &MemoryQueue{ch: make(chan Event, size)}
}

// Enqueue holds e, or fails at once with ErrQueueFull: a webhook must be
// answered fast, and a 503 makes Contentful retry later.
func (q *MemoryQueue) Enqueue(ctx context.Context, e Event) error {
	select {
	case q.ch <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	default:
		return ErrQueueFull
	}
}

// Events is the stream the workers consume.
func (q *MemoryQueue) Events() <-chan Event { return q.ch }

// Len is the number of events waiting.
func (q *MemoryQueue) Len() int { return len(q.ch) }

// Put holds e, waiting for room: for events read from a durable queue,
// which must not be dropped.
func (q *MemoryQueue) Put(ctx context.Context, e Event) error {
	select {
	case q.ch <- e:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
