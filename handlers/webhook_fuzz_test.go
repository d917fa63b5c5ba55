package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/refresh"
)

// anyone lets every caller in: the fuzz target is about what comes after
// authentication.
type anyone struct{}

func (anyone) Authenticate(context.Context, *http.Request, []byte) (*auth.Principal, error) {
	return &auth.Principal{ClientID: "fuzz"}, nil
}
func (anyone) UsesAuth0() bool { return false }

// countingQueue counts what is queued and keeps nothing.
type countingQueue struct{ n atomic.Int64 }

func (q *countingQueue) Enqueue(context.Context, refresh.Event) error { q.n.Add(1); return nil }

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// FuzzWebhookIntake posts webhooks through the router (the body read,
// the handler, the intake with its deduplication) after authentication:
// whatever the Content-Type, topic, idempotency key and body, the answer
// is 200 (duplicate or ignored) or 202 (accepted, one event queued), or a
// 4xx in folio's error shape with nothing queued; never a 5xx or a panic
// (the router's recovery would answer 500).
func FuzzWebhookIntake(f *testing.F) {
	const ct = "application/vnd.contentful.management.v1+json"
	files, _ := filepath.Glob("../contentful/testdata/recorded/*.json")
	for i, name := range files {
		b, _ := os.ReadFile(name)
		var rec []struct {
			Response struct {
				Body struct {
					Items []json.RawMessage `json:"items"`
				} `json:"body"`
			} `json:"response"`
		}
		json.Unmarshal(b, &rec)
		for _, r := range rec {
			for _, it := range r.Response.Body.Items {
				f.Add(ct, []string{"ContentManagement.Entry.publish", "ContentManagement.Entry.delete"}[i%2], "", []byte(it))
			}
		}
	}
	f.Add(ct, "ContentManagement.Entry.publish", "key-1", publishBody("p1", 2))
	f.Add("application/json; charset=utf-8", "ContentManagement.Entry.unpublish", "",
		[]byte(`{"sys":{"type":"DeletedEntry","id":"p0","revision":3,"space":{"sys":{"id":"space1"}}}}`))
	f.Add(ct, "ContentManagement.Asset.publish", "", []byte(`{"sys":{"type":"Asset","id":"a","revision":1,"environment":{"sys":{"id":"staging"}}}}`))
	f.Add(ct, "ContentManagement.ContentType.publish", "", []byte(`{"sys":{"type":"ContentType","id":"blogPost","revision":1}}`))
	f.Add(ct, "ContentManagement.Entry.save", "", []byte(`{}`))
	f.Add("text/plain", "ContentManagement.Entry.publish", "", []byte(`{}`))
	f.Add(ct, "", "", []byte(`{}`))
	f.Add(ct, "ContentManagement.Entry", "", []byte(`{}`))
	f.Add(ct, "ContentManagement.Entry.publish", "", []byte(`{"sys":{"type":"Entry","id":"p1","revision":"2"}}`))
	f.Add(ct, "ContentManagement.Entry.publish", "", []byte(`[`))

	store := &cache.Store{}
	snapshotFor(f, store, "fuzz", 3)
	queue := &countingQueue{}
	router := NewRouter(Deps{
		Store: store, Logger: slog.New(slog.DiscardHandler), Status: NewStatus(Info{}, store),
		Webhook: NewWebhook(refresh.NewIntake(store, queue, refresh.NewMemoryDedup(time.Minute, 1000), refresh.NewEventLog(refresh.Retention{Events: 10}),
			refresh.IntakeOptions{Space: "space1", Environment: "master", Collections: hookCols})),
		Auth: anyone{}, Limits: NewClientLimits(1e9, 1e9),
	})
	f.Fuzz(func(t *testing.T, contentType, topic, key string, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/contentful", bytes.NewReader(body))
		for name, v := range map[string]string{"Content-Type": contentType, "X-Contentful-Topic": topic, "X-Contentful-Idempotency-Key": key} {
			if v != "" {
				req.Header.Set(name, v)
			}
		}
		before := queue.n.Load()
		w := httptest.NewRecorder()
		router.ServeHTTP(w, req)
		queued := queue.n.Load() - before
		switch {
		case w.Code == http.StatusAccepted:
			var a webhookAnswer
			if json.Unmarshal(w.Body.Bytes(), &a) != nil || a.Status != "accepted" || a.EventID == "" || queued != 1 {
				t.Fatalf("202 %s, %d queued", w.Body, queued)
			}
		case w.Code == http.StatusOK:
			var a webhookAnswer
			if json.Unmarshal(w.Body.Bytes(), &a) != nil || (a.Status != "duplicate" && a.Status != "ignored") || queued != 0 {
				t.Fatalf("200 %s, %d queued", w.Body, queued)
			}
		case w.Code >= 400 && w.Code < 500:
			var e errorBody
			if json.Unmarshal(w.Body.Bytes(), &e) != nil || !snakeCase.MatchString(e.Error.Code) || e.Error.Message == "" || queued != 0 {
				t.Fatalf("%d %s, %d queued", w.Code, w.Body, queued)
			}
			if _, err := contentful.ParseTopic(topic); err == nil && w.Code == http.StatusBadRequest && e.Error.Code == "topic_invalid" {
				t.Fatalf("topic %q parses, yet the answer is %s", topic, w.Body)
			}
		default:
			t.Fatalf("topic %q, Content-Type %q, body %q: %d %s", topic, contentType, body, w.Code, w.Body)
		}
	})
}
