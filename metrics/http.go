package metrics

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// RouteUnmatched is the route label of a request no route matched (a 404
// or 405 of gin's): one value, so that a scan of made-up paths adds no
// series.
const RouteUnmatched = "unmatched"

// requestBuckets span folio's answers: a few µs for content from memory,
// up to seconds for a webhook whose Auth0 exchange is slow.
var requestBuckets = []float64{0.00001, 0.000025, 0.0001, 0.00025, 0.001, 0.0025, 0.01, 0.025, 0.1, 0.25, 1, 2.5, 10}

type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) httpMetrics {
	h := httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "folio_http_requests_total",
			Help: "HTTP requests answered, by route template (\"unmatched\" for none) and status code."}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "folio_http_request_duration_seconds",
			Help: "Seconds from a request's routing to its handler's return, by route template.", Buckets: requestBuckets},
			[]string{"route"}),
	}
	reg.MustRegister(h.requests, h.duration)
	return h
}

// Route returns what counts the answers of one route: template is the
// route as registered ("/cv", "/blog/*slug"; "" or RouteUnmatched for
// none), code the status written, took the time spent. The series are
// resolved here and on a code's first use, so a request costs two atomic
// adds and no allocation (handlers.Requests).
func (m *Metrics) Route(template string) func(code int, took time.Duration) {
	if template == "" {
		template = RouteUnmatched
	}
	r := &routeSeries{codes: m.http.requests.MustCurryWith(prometheus.Labels{"route": template}),
		took: m.http.duration.WithLabelValues(template)}
	return r.observe
}

type routeSeries struct {
	codes *prometheus.CounterVec
	took  prometheus.Observer
	// byCode holds the counter of each status code 100–599 once seen.
	byCode [500]atomic.Pointer[counter]
}

type counter struct{ prometheus.Counter }

func (r *routeSeries) observe(code int, took time.Duration) {
	r.counter(code).Inc()
	r.took.Observe(took.Seconds())
}

func (r *routeSeries) counter(code int) prometheus.Counter {
	if code < 100 || code > 599 {
		return r.codes.WithLabelValues(strconv.Itoa(code))
	}
	slot := &r.byCode[code-100]
	if c := slot.Load(); c != nil {
		return c.Counter
	}
	// Two first uses at once resolve the same series.
	slot.CompareAndSwap(nil, &counter{r.codes.WithLabelValues(strconv.Itoa(code))})
	return slot.Load().Counter
}
