// Package metrics exposes folio's Prometheus metrics at GET /metrics: what
// an operator alerts on (snapshot age, failed and dead events, queue depth,
// Redis state), computed when scraped, and what the parts report as it
// happens through hooks they declare (requests by route, refreshes,
// Delivery API and Auth0 calls). Every label is bounded: routes are route
// templates, codes are status or error codes, collections are cv and blog.
// README's "### Metrics" lists every family.
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
	Snapshot func() *cache.Snapshot
	// QueueDepth is the events this process holds and has not processed
	// (its in-memory queue; with Redis, the leader's, read from the stream).
	QueueDepth func() int
	// DeadLetters, when set, is the number of dead letters kept (the
	// shared history's, with Redis).
	DeadLetters func() int
	// RedisUp reports 1 when Redis is configured and reachable, 0 when it is
	// configured and not, -1 when folio runs memory-only.
	RedisUp func() float64
	// RedisLeader, when set, reports 1 while this process holds the Redis
	// lease (fetches for every replica), 0 while it follows, -1 when folio
	// runs memory-only.
	RedisLeader func() float64
	// WebhookAuthDegraded reports 1 while no webhook can be authenticated
	// at all (auth.Guard.Degraded: no method, or Auth0 failing), else 0.
	WebhookAuthDegraded func() float64
}

// Metrics holds folio's registry and its counters.
type Metrics struct {
	reg      *prometheus.Registry
	webhooks *prometheus.CounterVec
	events   *prometheus.CounterVec
	http     httpMetrics
	refresh  *prometheus.HistogramVec
	delivery deliveryMetrics
	auth0    auth0Metrics
}

// New registers the metrics the parts report through their hooks (Route,
// Refresh, DeliveryRequest, Auth0Exchange, Auth0Cache, Webhook, Event);
// Watch adds those read at scrape time.
func New() *Metrics {
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
		http:     newHTTPMetrics(reg),
		refresh:  newRefreshMetrics(reg),
		delivery: newDeliveryMetrics(reg),
		auth0:    newAuth0Metrics(reg),
	}
	reg.MustRegister(m.webhooks, m.events)
	return m
}

// Watch registers the gauges read from src at scrape time; call it once.
// A nil optional source leaves its gauge out.
func (m *Metrics) Watch(src Sources) {
	reg := m.reg
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
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "folio_queue_depth",
			Help: "Events this process holds and has not processed (with Redis: read from the stream by the leader)."}, func() float64 {
			return float64(src.QueueDepth())
		}),
	)
	gauges := []struct {
		name, help string
		f          func() float64
	}{
		{"folio_dead_letters", "Dead letters kept (events that failed every attempt), waiting for a replay.",
			intGauge(src.DeadLetters)},
		{"folio_redis_up", "1 Redis reachable, 0 configured but unreachable (degraded: memory only), -1 not configured.",
			src.RedisUp},
		{"folio_redis_leader", "1 while this process holds the Redis lease (fetches for every replica), 0 following, -1 Redis not configured.",
			src.RedisLeader},
		{"folio_webhook_auth_degraded", "1 while no webhook can be authenticated (no method configured, or Auth0 failing: /status auth), else 0.",
			src.WebhookAuthDegraded},
	}
	for _, g := range gauges {
		if g.f != nil {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: g.name, Help: g.help}, g.f))
		}
	}
}

// intGauge reads an int source as a gauge; nil stays nil (not registered).
func intGauge(f func() int) func() float64 {
	if f == nil {
		return nil
	}
	return func() float64 { return float64(f()) }
}

// Handler serves the registry.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Webhook counts one webhook answer.
func (m *Metrics) Webhook(answer string) { m.webhooks.WithLabelValues(answer).Inc() }

// Event counts one finished event.
func (m *Metrics) Event(outcome string) { m.events.WithLabelValues(outcome).Inc() }
