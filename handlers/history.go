package handlers

import (
	"net/http"
	"strconv"

	"github.com/folio-cms/folio/refresh"
	"github.com/gin-gonic/gin"
)

// historyLimit is how many events GET /status/history returns by default
// (or the retention's count, when lower).
const historyLimit = 500

// History serves GET /status/history: the event history every replica
// shares (with Redis) or this process keeps, for the dashboard's charts.
// Public, like /status: it carries no secret.
type History struct {
	history EventHistory
}

// NewHistory returns the history route's handler.
func NewHistory(h EventHistory) *History { return &History{history: h} }

// historyDoc is the JSON of GET /status/history.
type historyDoc struct {
	// Source is "redis" (every replica's history) or "memory" (this
	// process's: without Redis, or while it is away).
	Source    string `json:"source"`
	Retention struct {
		Events        int   `json:"events"`
		MaxAgeSeconds int64 `json:"maxAgeSeconds"`
	} `json:"retention"`
	Events      []refresh.Record `json:"events"`
	DeadLetters []refresh.Record `json:"deadLetters"`
}

// Serve answers GET /status/history[?limit=N]: {"source", "retention":
// {"events", "maxAgeSeconds" (0: no age bound)}, "events": [Record...]
// newest first, "deadLetters": [Record...] newest first}. limit (default
// 500, or the retention's count when lower) is a whole number from 1 to
// the retention's count; anything else is 400 limit_invalid.
func (h *History) Serve(c *gin.Context) {
	keep := h.history.Retention()
	limit := min(historyLimit, keep.Events)
	if raw, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > keep.Events {
			fail(c, &Error{Status: http.StatusBadRequest, Code: "limit_invalid",
				Message: "limit must be a whole number from 1 to " + strconv.Itoa(keep.Events) + " (the events kept)"})
			return
		}
		limit = n
	}
	v := h.history.Read(c, limit)
	var doc historyDoc
	doc.Source = v.Source
	doc.Retention.Events, doc.Retention.MaxAgeSeconds = v.Retention.Events, int64(v.Retention.MaxAge.Seconds())
	doc.Events, doc.DeadLetters = nonNil(v.Events), nonNil(v.DeadLetters)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, doc)
}

// nonNil makes an empty list [] in JSON rather than null.
func nonNil(rs []refresh.Record) []refresh.Record {
	if rs == nil {
		return []refresh.Record{}
	}
	return rs
}
