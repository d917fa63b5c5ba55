package handlers

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/refresh"
)

// TestStatusHistory: GET /status/history answers the history's source,
// retention, events newest first (up to limit) and dead letters, uncached;
// a limit that is not a whole number from 1 to the retention's count is
// 400 limit_invalid.
func TestStatusHistory(t *testing.T) {
	store := &cache.Store{}
	log := refresh.NewEventLog(refresh.Retention{Events: 3, MaxAge: time.Hour})
	now := time.Now().UTC()
	for i, id := range []string{"evt_a", "evt_b", "evt_c"} {
		log.Begin(refresh.Event{ID: id, Topic: "ContentManagement.Entry.publish", ReceivedAt: now.Add(time.Duration(i) * time.Second)})
	}
	log.Update("evt_a", func(r *refresh.Record) { r.Outcome = refresh.Dead; r.Error = "the Delivery API answered 500" })
	h := NewRouter(Deps{Store: store, Logger: testLogger, Status: NewStatus(Info{}, store), History: NewHistory(log)})
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w
	}

	w := get("/status/history")
	var doc struct {
		Source    string
		Retention struct {
			Events        int
			MaxAgeSeconds int64
		}
		Events, DeadLetters []refresh.Record
	}
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &doc) != nil {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	if doc.Source != "memory" || doc.Retention.Events != 3 || doc.Retention.MaxAgeSeconds != 3600 {
		t.Errorf("source %q, retention %+v", doc.Source, doc.Retention)
	}
	if len(doc.Events) != 3 || doc.Events[0].ID != "evt_c" || len(doc.DeadLetters) != 1 || doc.DeadLetters[0].ID != "evt_a" {
		t.Errorf("events %+v, dead letters %+v", doc.Events, doc.DeadLetters)
	}
	if doc.Events[2].UpdatedAt.IsZero() {
		t.Error("a record without updatedAt")
	}

	w = get("/status/history?limit=1")
	if json.Unmarshal(w.Body.Bytes(), &doc) != nil || len(doc.Events) != 1 || doc.Events[0].ID != "evt_c" {
		t.Errorf("limit=1: %d %s", w.Code, w.Body.String())
	}
	for _, bad := range []string{"0", "-1", "4", "x", "", "1.5", "99999999999999999999"} {
		w := get("/status/history?limit=" + bad)
		if w.Code != 400 || errorCode(t, w) != "limit_invalid" {
			t.Errorf("limit=%q: %d %s", bad, w.Code, w.Body.String())
		}
	}

	empty := NewRouter(Deps{Store: store, Logger: testLogger, Status: NewStatus(Info{}, store),
		History: NewHistory(refresh.NewEventLog(refresh.Retention{Events: 1000}))})
	w = httptest.NewRecorder()
	empty.ServeHTTP(w, httptest.NewRequest("GET", "/status/history", nil))
	if body := w.Body.String(); w.Code != 200 || !json.Valid(w.Body.Bytes()) ||
		!strings.Contains(body, `"events":[]`) || !strings.Contains(body, `"deadLetters":[]`) {
		t.Errorf("empty history: %d %s", w.Code, body)
	}
}
