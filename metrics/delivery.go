package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

type deliveryMetrics struct {
	requests *prometheus.CounterVec
	retries  *prometheus.CounterVec
}

func newDeliveryMetrics(reg prometheus.Registerer) deliveryMetrics {
	d := deliveryMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "folio_delivery_api_requests_total",
			Help: "Contentful Delivery API requests (each attempt), by collection and status code (\"error\": no answer came)."},
			[]string{"collection", "code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "folio_delivery_api_retries_total",
			Help: "Delivery API attempts that were retries of a failed one (429, 5xx, no answer), by collection."},
			[]string{"collection"}),
	}
	reg.MustRegister(d.requests, d.retries)
	return d
}

// DeliveryRequest records one Delivery API attempt (contentful.Options
// Observe): collection is the caller's (cv, blog, "" for none: "other"),
// status the HTTP status, 0 when no answer came, retry whether the
// attempt repeated a failed one.
func (m *Metrics) DeliveryRequest(collection string, status int, retry bool) {
	if collection == "" {
		collection = "other"
	}
	code := "error"
	if status >= 100 && status <= 599 {
		code = strconv.Itoa(status)
	}
	m.delivery.requests.WithLabelValues(collection, code).Inc()
	if retry {
		m.delivery.retries.WithLabelValues(collection).Inc()
	}
}
