package handlers

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/refresh"
	"github.com/gin-gonic/gin"
)

// Queue holds accepted events until a worker makes them snapshots. Enqueue
// returns only once the event is held; an error means it was not.
type Queue interface {
	Enqueue(ctx context.Context, e refresh.Event) error
}

// Deduper remembers what was accepted recently. First reports whether key
// is new and marks it seen; Forget unmarks it (the event was not held after
// all, so Contentful's retry must not be answered "duplicate").
type Deduper interface {
	First(ctx context.Context, key string) (bool, error)
	Forget(ctx context.Context, key string)
}

// WebhookOptions configure the intake.
type WebhookOptions struct {
	Space       string // payloads for another space are ignored
	Environment string // payloads for another environment are ignored
	Collections refresh.Collections
	// Busy, when set, reports a collection with a refresh under way: a
	// change nothing served contains may be linked by what it will serve.
	Busy func(cache.Collection) bool
	// Defer, when it reports true, leaves a change that affects nothing
	// served here to the process that will handle it (the Redis leader,
	// whose content may be newer) instead of ignoring it.
	Defer func() bool
}

// Webhook receives Contentful's calls. It runs after the authentication
// middleware, which has read and verified the raw body.
type Webhook struct {
	store  Snapshots
	queue  Queue
	dedup  Deduper
	events *refresh.EventLog // duplicates and ignored calls are logged too; may be nil
	opts   WebhookOptions
	now    func() time.Time
}

// NewWebhook returns the intake handler.
func NewWebhook(store Snapshots, queue Queue, dedup Deduper, events *refresh.EventLog, opts WebhookOptions) *Webhook {
	return &Webhook{store: store, queue: queue, dedup: dedup, events: events, opts: opts, now: time.Now}
}

// answer sends a 200 for a call that queues nothing, and logs it.
func (h *Webhook) answer(c *gin.Context, ev refresh.Event, o refresh.Outcome, reason string) {
	if h.events != nil {
		ev.ID = refresh.NewEventID()
		ev.ReceivedAt = h.now().UTC()
		h.events.Add(refresh.Record{Event: ev, Outcome: o, Error: reason, FinishedAt: ev.ReceivedAt})
	}
	c.Set(answerKey, string(o))
	c.JSON(http.StatusOK, webhookAnswer{Status: string(o), Reason: reason})
}

// answerKey holds the short answer of a webhook call (accepted, duplicate,
// ignored, or an error code) for CountAnswers.
const answerKey = "folio.webhook.answer"

// CountAnswers reports every webhook call's answer to count (metrics).
func CountAnswers(count func(answer string)) gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if a, ok := c.Get(answerKey); ok {
			count(a.(string))
		}
	}
}

// webhookAnswer is the JSON of a 2xx webhook answer.
type webhookAnswer struct {
	Status      string             `json:"status"` // accepted, duplicate or ignored
	EventID     string             `json:"eventId,omitempty"`
	Collections []cache.Collection `json:"collections,omitempty"`
	Reason      string             `json:"reason,omitempty"`
}

// Contentful's own content type; application/json is accepted for hand-made
// calls (folio webhook send with a body file, curl).
var webhookTypes = map[string]bool{"application/vnd.contentful.management.v1+json": true, "application/json": true}

// Receive answers POST /webhooks/contentful.
func (h *Webhook) Receive(c *gin.Context) {
	body, _ := c.Get(bodyKey)
	raw, _ := body.([]byte)
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || !webhookTypes[mt] {
		fail(c, &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_content_type",
			Message: "send application/vnd.contentful.management.v1+json, as Contentful does"})
		return
	}
	topicHeader := c.GetHeader("X-Contentful-Topic")
	if topicHeader == "" {
		fail(c, &Error{Status: http.StatusBadRequest, Code: "topic_missing", Message: "the X-Contentful-Topic header is missing"})
		return
	}
	topic, err := contentful.ParseTopic(topicHeader)
	if err != nil {
		fail(c, &Error{Status: http.StatusBadRequest, Code: "topic_invalid", Message: err.Error()})
		return
	}
	if !topic.Triggers() {
		h.answer(c, refresh.Event{Topic: topic.String()}, refresh.Ignored, topic.String()+" does not change delivered content")
		return
	}
	ch, err := contentful.ParseChange(topic, raw)
	if err != nil {
		fail(c, &Error{Status: http.StatusBadRequest, Code: "payload_invalid", Message: err.Error()})
		return
	}
	seen := refresh.Event{Topic: topic.String(), Action: topic.Action, Entity: ch.Ref(), ContentType: ch.ContentType, Revision: ch.Revision}
	if ch.Space != "" && h.opts.Space != "" && ch.Space != h.opts.Space {
		h.answer(c, seen, refresh.Ignored, "the payload is for space "+ch.Space+", folio serves "+h.opts.Space)
		return
	}
	if ch.Environment != "" && h.opts.Environment != "" && ch.Environment != h.opts.Environment {
		h.answer(c, seen, refresh.Ignored, "the payload is for environment "+ch.Environment+", folio serves "+h.opts.Environment)
		return
	}
	cols := refresh.Affected(ch, h.opts.Collections, h.store.Load())
	if len(cols) == 0 && h.opts.Busy != nil {
		for _, c := range []cache.Collection{cache.Blog, cache.CV} {
			if h.opts.Busy(c) {
				cols = append(cols, c)
			}
		}
	}
	if len(cols) == 0 && h.opts.Defer != nil && h.opts.Defer() {
		seen.Resolve = true
	} else if len(cols) == 0 {
		h.answer(c, seen, refresh.Ignored, "nothing folio serves contains "+string(ch.Ref()))
		return
	}

	// Contentful's idempotency key names one delivery; without it, one
	// entity revision and action is one change.
	key := c.GetHeader("X-Contentful-Idempotency-Key")
	if key == "" {
		key = fmt.Sprintf("%s:%s:%d", ch.Ref(), topic.Action, ch.Revision)
	}
	first, err := h.dedup.First(c, key)
	if err != nil {
		fail(c, err)
		return
	}
	if !first {
		h.answer(c, seen, refresh.Duplicate, "this change was accepted recently")
		return
	}
	ev := seen
	ev.ID, ev.Collections, ev.ReceivedAt = refresh.NewEventID(), cols, h.now().UTC()
	if err := h.queue.Enqueue(c, ev); err != nil {
		h.dedup.Forget(context.WithoutCancel(c), key)
		fail(c, err)
		return
	}
	logger(c).Info("webhook accepted", "event", ev.ID, "topic", ev.Topic, "entity", string(ev.Entity),
		"revision", ev.Revision, "collections", cols, "client", principalName(c))
	c.Set(answerKey, "accepted")
	c.JSON(http.StatusAccepted, webhookAnswer{Status: "accepted", EventID: ev.ID, Collections: cols})
}
