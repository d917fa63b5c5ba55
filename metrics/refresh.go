package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// refreshBuckets span a collection's fetch, build and install: tens of
// milliseconds for a small space, minutes for thousands of posts behind a
// slow or rate-limited Delivery API.
var refreshBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

func newRefreshMetrics(reg prometheus.Registerer) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "folio_refresh_duration_seconds",
		Help:    "Seconds of one collection's fetch, build and install, by collection (cv, blog) and outcome (done, failed, canceled).",
		Buckets: refreshBuckets}, []string{"collection", "outcome"})
	reg.MustRegister(h)
	return h
}

// Refresh records one collection's refresh (refresh.Loader.Observe):
// collection is cv or blog, outcome done, failed or canceled.
func (m *Metrics) Refresh(collection, outcome string, took time.Duration) {
	m.refresh.WithLabelValues(collection, outcome).Observe(took.Seconds())
}
