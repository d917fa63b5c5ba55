package handlers

import (
	"context"
	"mime"
	"net/http"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/refresh"
	"github.com/gin-gonic/gin"
)

// Intake decides what a webhook delivery means and queues it
// (refresh.Intake).
type Intake interface {
	Receive(ctx context.Context, d refresh.Delivery) (refresh.Receipt, error)
}

// Webhook receives Contentful's calls. It runs after the authentication
// middleware, which has read and verified the raw body; it parses the
// request, hands it to the intake and renders the receipt.
type Webhook struct {
	intake Intake
}

// NewWebhook returns the intake handler.
func NewWebhook(intake Intake) *Webhook {
	return &Webhook{intake: intake}
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
var webhookTypes = map[string]bool{contentful.WebhookMediaType: true, "application/json": true}

// Receive answers POST /webhooks/contentful.
func (h *Webhook) Receive(c *gin.Context) {
	body, _ := c.Get(bodyKey)
	raw, _ := body.([]byte)
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || !webhookTypes[mt] {
		fail(c, &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_content_type",
			Message: "send " + contentful.WebhookMediaType + ", as Contentful does"})
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
	r, err := h.intake.Receive(c, refresh.Delivery{Topic: topic, Body: raw, IdempotencyKey: c.GetHeader("X-Contentful-Idempotency-Key")})
	if err != nil {
		fail(c, err)
		return
	}
	c.Set(answerKey, string(r.Outcome))
	if r.Outcome != refresh.Accepted {
		c.JSON(http.StatusOK, webhookAnswer{Status: string(r.Outcome), Reason: r.Reason})
		return
	}
	ev := r.Event
	logger(c).Info("webhook accepted", "event", ev.ID, "topic", ev.Topic, "entity", string(ev.Entity),
		"revision", ev.Revision, "collections", ev.Collections, "client", principalName(c))
	c.JSON(http.StatusAccepted, webhookAnswer{Status: "accepted", EventID: r.EventID, Collections: r.Collections})
}
