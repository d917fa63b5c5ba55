package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/internal/promcheck"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(w.Result().Body)
	return string(b)
}

// value returns the sample of series (a name with its labels, as
// exposed), or fails.
func value(t *testing.T, s, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no series %s in:\n%s", series, s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestWebhookAuthDegraded: the gauge an operator alerts on when no webhook
// can be authenticated follows its source at scrape time.
func TestWebhookAuthDegraded(t *testing.T) {
	store := &cache.Store{}
	degraded := 1.0
	m := New()
	m.Watch(Sources{Snapshot: store.Load, QueueDepth: func() int { return 0 },
		WebhookAuthDegraded: func() float64 { return degraded }})
	if s := scrape(t, m); !strings.Contains(s, "\nfolio_webhook_auth_degraded 1\n") {
		t.Fatalf("degraded not exported:\n%s", s)
	}
	degraded = 0
	if s := scrape(t, m); !strings.Contains(s, "\nfolio_webhook_auth_degraded 0\n") {
		t.Fatalf("recovery not exported:\n%s", s)
	}
}

// TestFamilies: every family README lists is exported with the labels it
// names, moves with its hook or source, and the scrape passes promtool.
func TestFamilies(t *testing.T) {
	store := &cache.Store{}
	m := New()
	m.Watch(Sources{Snapshot: store.Load, QueueDepth: func() int { return 3 }, DeadLetters: func() int { return 2 },
		RedisUp: func() float64 { return 1 }, RedisLeader: func() float64 { return 1 },
		WebhookAuthDegraded: func() float64 { return 0 }})
	cv := m.Route("/cv")
	cv(200, 3*time.Microsecond)
	cv(200, 5*time.Microsecond)
	cv(304, time.Microsecond)
	m.Route("")(404, time.Millisecond)
	m.Route("/webhooks/contentful")(202, 2*time.Millisecond)
	m.Webhook("accepted")
	m.Webhook("signature_invalid")
	m.Event("done")
	m.Refresh("blog", "done", 40*time.Millisecond)
	m.Refresh("blog", "failed", 2*time.Second)
	m.DeliveryRequest("blog", 200, false)
	m.DeliveryRequest("blog", 503, false)
	m.DeliveryRequest("blog", 200, true)
	m.DeliveryRequest("cv", 0, true)
	m.DeliveryRequest("", 200, false)
	m.Auth0Exchange("ok")
	m.Auth0Exchange("invalid_client_credentials")
	m.Auth0Cache("miss")
	m.Auth0Cache("hit")
	m.Auth0Cache("hit")

	s := scrape(t, m)
	for series, want := range map[string]float64{
		`folio_http_requests_total{code="200",route="/cv"}`:                       2,
		`folio_http_requests_total{code="304",route="/cv"}`:                       1,
		`folio_http_requests_total{code="404",route="unmatched"}`:                 1,
		`folio_http_requests_total{code="202",route="/webhooks/contentful"}`:      1,
		`folio_http_request_duration_seconds_count{route="/cv"}`:                  3,
		`folio_http_request_duration_seconds_bucket{route="/cv",le="1e-05"}`:      3,
		`folio_http_request_duration_seconds_count{route="unmatched"}`:            1,
		`folio_webhooks_total{answer="accepted"}`:                                 1,
		`folio_webhooks_total{answer="signature_invalid"}`:                        1,
		`folio_events_total{outcome="done"}`:                                      1,
		`folio_refresh_duration_seconds_count{collection="blog",outcome="done"}`:  1,
		`folio_refresh_duration_seconds_sum{collection="blog",outcome="failed"}`:  2,
		`folio_delivery_api_requests_total{code="200",collection="blog"}`:         2,
		`folio_delivery_api_requests_total{code="503",collection="blog"}`:         1,
		`folio_delivery_api_requests_total{code="error",collection="cv"}`:         1,
		`folio_delivery_api_requests_total{code="200",collection="other"}`:        1,
		`folio_delivery_api_retries_total{collection="blog"}`:                     1,
		`folio_delivery_api_retries_total{collection="cv"}`:                       1,
		`folio_auth0_token_exchanges_total{outcome="ok"}`:                         1,
		`folio_auth0_token_exchanges_total{outcome="invalid_client_credentials"}`: 1,
		`folio_auth0_token_cache_total{result="hit"}`:                             2,
		`folio_auth0_token_cache_total{result="miss"}`:                            1,
		`folio_queue_depth`:  3,
		`folio_dead_letters`: 2,
		`folio_redis_up`:     1,
		`folio_redis_leader`: 1,
		`folio_ready`:        0,
		`folio_snapshot_age_seconds{collection="cv"}`: -1,
		`folio_snapshot_entries{collection="blog"}`:   0,
		`folio_snapshot_bytes{collection="blog"}`:     0,
	} {
		if got := value(t, s, series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	// Every route's histogram exists from its construction, before any
	// request: a rate() over it starts at 0, not at the first request.
	m.Route("/status")
	if got := value(t, scrape(t, m), `folio_http_request_duration_seconds_count{route="/status"}`); got != 0 {
		t.Errorf("a new route's histogram count = %v", got)
	}
	promcheck.Check(t, []byte(s))
}

// TestRouteAllocatesNothing: counting an answer allocates nothing once its
// status code has been seen, so the content path stays allocation-free.
func TestRouteAllocatesNothing(t *testing.T) {
	count := New().Route("/blog/*slug")
	count(http.StatusOK, time.Microsecond)
	if n := testing.AllocsPerRun(100, func() { count(http.StatusOK, time.Microsecond) }); n != 0 {
		t.Errorf("%v allocations per counted answer", n)
	}
}

// TestRouteCodesOutOfRange: a status net/http allows past 599 is counted
// under its own code, not dropped.
func TestRouteCodesOutOfRange(t *testing.T) {
	m := New()
	m.Route("/")(999, time.Millisecond)
	if got := value(t, scrape(t, m), `folio_http_requests_total{code="999",route="/"}`); got != 1 {
		t.Errorf("code 999 counted %v times", got)
	}
}

// TestRouteConcurrentFirstUse: answers of one new code counted at once
// from many goroutines all land on one series (run under -race).
func TestRouteConcurrentFirstUse(t *testing.T) {
	m := New()
	count := m.Route("/blog")
	done := make(chan struct{})
	for range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 100 {
				count(http.StatusNotModified, time.Microsecond)
			}
		}()
	}
	for range 8 {
		<-done
	}
	if got := value(t, scrape(t, m), `folio_http_requests_total{code="304",route="/blog"}`); got != 800 {
		t.Errorf("counted %v of 800", got)
	}
}
