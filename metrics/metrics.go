// Package metrics exposes folio's Prometheus metrics at GET /metrics: what
// an operator alerts on (snapshot age, failed and dead events, queue depth,
// Redis state), computed when scraped, so the content path pays nothing.
package metrics

import (
	"net/http"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Sources are read at scrape time.
type Sources struct {
	Snapshot   func() *cache.Snapshot
	QueueDepth func() int
	// RedisUp reports 1 when Redis is configured and reachable, 0 when it is
	// configured and not, -1 when folio runs memory-only.
	RedisUp func() float64
	// WebhookAuthDegraded reports 1 while no webhook can be authenticated
	// at all (auth.Guard.Degraded: no method, or Auth0 failing), else 0.
	WebhookAuthDegraded func() float64
}

// Metrics holds folio's registry and its counters.
type Metrics struct {
	reg      *prometheus.Registry
	webhooks *prometheus.CounterVec
	events   *prometheus.CounterVec
}

// New registers every metric.
func New(src Sources) *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		reg: reg,
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_webhooks_total", Help: "Webhook calls by answer (accepted, duplicate, ignored, or an error code).",
		}, []string{"answer"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "folio_events_total", Help: "Events finished by outcome (done, failed, dead, ignored).",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.webhooks, m.events)
	for _, col := range []cache.Collection{cache.CV, cache.Blog} {
		part := func() *cache.Part { return src.Snapshot().Part(col) }
		labels := prometheus.Labels{"collection": string(col)}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "folio_snapshot_age_seconds", ConstLabels: labels,
				Help: "Seconds since the collection was last fetched (-1 before the first load)."}, func() float64 {
				if p := part(); p != nil {
					return time.Since(p.FetchedAt).Seconds()
				}
				return -1
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "folio_snapshot_bytes", ConstLabels: labels,
				Help: "Identity bytes the collection serves."}, func() float64 {
				if p := part(); p != nil {
					return float64(p.Bytes())
				}
				return 0
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "folio_snapshot_entries", ConstLabels: labels,
				Help: "Entries in the collection."}, func() float64 {
				if p := part(); p != nil {
					return float64(p.Entries)
				}
				return 0
			}),
		)
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "folio_ready", Help: "1 once every collection is loaded."}, func() float64 {
			if src.Snapshot().Ready() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "folio_queue_depth", Help: "Events waiting in the queue."}, func() float64 {
			return float64(src.QueueDepth())
		}),
	)
	if src.RedisUp != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "folio_redis_up",
			Help: "1 Redis reachable, 0 configured but unreachable (degraded: memory only), -1 not configured."}, src.RedisUp))
	}
	if src.WebhookAuthDegraded != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "folio_webhook_auth_degraded",
			Help: "1 while no webhook can be authenticated (no method configured, or Auth0 failing: /status auth), else 0."},
			src.WebhookAuthDegraded))
	}
	return m
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Webhook counts one webhook answer.
func (m *Metrics) Webhook(answer string) { m.webhooks.WithLabelValues(answer).Inc() }

// Event counts one finished event.
func (m *Metrics) Event(outcome string) { m.events.WithLabelValues(outcome).Inc() }
