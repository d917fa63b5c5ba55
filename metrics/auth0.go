package metrics

import "github.com/prometheus/client_golang/prometheus"

type auth0Metrics struct {
	exchanges *prometheus.CounterVec
	cache     *prometheus.CounterVec
}

func newAuth0Metrics(reg prometheus.Registerer) auth0Metrics {
	a := auth0Metrics{
		exchanges: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "folio_auth0_token_exchanges_total",
			Help: "Auth0 client-credentials exchanges by outcome (ok, or the refusal's error code)."}, []string{"outcome"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "folio_auth0_token_cache_total",
			Help: "Basic credentials looked up in the Auth0 token cache, by result (hit: a token, refused: a remembered refusal, miss)."},
			[]string{"result"}),
	}
	reg.MustRegister(a.exchanges, a.cache)
	return a
}

// Auth0Exchange counts one client-credentials exchange
// (auth.Auth0Config OnExchange): outcome is ok or an auth error code.
func (m *Metrics) Auth0Exchange(outcome string) { m.auth0.exchanges.WithLabelValues(outcome).Inc() }

// Auth0Cache counts one token cache lookup (auth.Auth0Config OnCache):
// result is hit, refused or miss.
func (m *Metrics) Auth0Cache(result string) { m.auth0.cache.WithLabelValues(result).Inc() }
