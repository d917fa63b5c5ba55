package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/folio-cms/folio/refresh"
	"github.com/gin-gonic/gin"
)

// Engine is what the admin routes need from the refresh side.
type Engine interface {
	Replay(ctx context.Context, q refresh.Enqueuer, id string) (refresh.Event, error)
	ForceRefresh(ctx context.Context, q refresh.Enqueuer) (refresh.Event, error)
}

// EventHistory is the event history the admin and status routes read: the
// shared one (redisstate.History) or this process's (refresh.EventLog).
// Read returns up to events events and every dead letter; it never fails
// (a shared history falls back to memory, and says so in View.Source).
type EventHistory interface {
	Read(ctx context.Context, events int) refresh.View
	Retention() refresh.Retention
}

// Admin serves the operator's routes: dead letters, replay, full refresh.
// They sit behind RequireAuth, like the webhook.
type Admin struct {
	engine  Engine
	history EventHistory
	queue   refresh.Enqueuer
}

// NewAdmin returns the admin handlers.
func NewAdmin(engine Engine, history EventHistory, queue refresh.Enqueuer) *Admin {
	return &Admin{engine: engine, history: history, queue: queue}
}

// DeadLetters answers GET /admin/dead-letters: {"deadLetters": [Record...]},
// newest first.
func (h *Admin) DeadLetters(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"deadLetters": h.history.Read(c, 0).DeadLetters})
}

// Replay answers POST /admin/dead-letters/{id}/replay.
func (h *Admin) Replay(c *gin.Context) {
	ev, err := h.engine.Replay(c, h.queue, c.Param("id"))
	if errors.Is(err, refresh.ErrNoDeadLetter) {
		fail(c, &Error{Status: http.StatusNotFound, Code: "dead_letter_not_found", Message: "no dead letter has that id"})
		return
	}
	if err != nil {
		fail(c, err)
		return
	}
	logger(c).Info("dead letter replayed", "event", ev.ID, "by", principalName(c))
	c.JSON(http.StatusAccepted, gin.H{"status": "accepted", "eventId": ev.ID})
}

// Refresh answers POST /admin/refresh: refetch everything and install it
// even where it is older than what is served.
func (h *Admin) Refresh(c *gin.Context) {
	ev, err := h.engine.ForceRefresh(c, h.queue)
	if err != nil {
		fail(c, err)
		return
	}
	logger(c).Info("full refresh queued", "event", ev.ID, "by", principalName(c))
	c.JSON(http.StatusAccepted, gin.H{"status": "accepted", "eventId": ev.ID})
}
