package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/folio-cms/folio/cache"
)

// TestWebhookAuthDegraded: the gauge an operator alerts on when no webhook
// can be authenticated follows its source at scrape time.
func TestWebhookAuthDegraded(t *testing.T) {
	store := &cache.Store{}
	degraded := 1.0
	m := New(Sources{Snapshot: store.Load, QueueDepth: func() int { return 0 },
		WebhookAuthDegraded: func() float64 { return degraded }})
	scrape := func() string {
		w := httptest.NewRecorder()
		m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(w.Result().Body)
		return string(b)
	}
	if s := scrape(); !strings.Contains(s, "\nfolio_webhook_auth_degraded 1\n") {
		t.Fatalf("degraded not exported:\n%s", s)
	}
	degraded = 0
	if s := scrape(); !strings.Contains(s, "\nfolio_webhook_auth_degraded 0\n") {
		t.Fatalf("recovery not exported:\n%s", s)
	}
}
