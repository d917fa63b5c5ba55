package auth

import (
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// exchangeLimits decides whether a client-credentials exchange may be made
// now, so that no caller's abuse becomes everyone's outage:
//
//   - Credentials Auth0 has accepted before in this process (proven: the
//     real client's renewals, and re-exchanges after a refused verdict
//     expired) draw on a ceiling of their own, which nothing unproven can
//     spend.
//   - Everything else (a first exchange, the first after a restart, and
//     every made-up pair) draws on the unproven ceiling. With an allow-list
//     only listed ids get this far (Basic refuses the others before any
//     limit), so a flood of made-up ids never touches it.
//   - Each caller also has its own token bucket (per credential when
//     proven, per client id otherwise), so one id cannot take a whole
//     ceiling.
//
// The per-caller buckets and the proven set are bounded LRU maps: made-up
// ids evict each other's buckets (a fresh bucket is only as generous as
// the ceiling behind it allows), never grow memory.
type exchangeLimits struct {
	now         func() time.Time
	callerRate  rate.Limit
	callerBurst int
	callers     *lru.Cache[string, *rate.Limiter]
	proven      *lru.Cache[credKey, struct{}]
	provenCeil  *rate.Limiter
	unproven    *rate.Limiter

	throttledProven, throttledUnproven atomic.Uint64
}

func newExchangeLimits(cfg Auth0Config, now func() time.Time) *exchangeLimits {
	size := cfg.MaxCallers
	if size <= 0 {
		size = DefaultAuth0MaxCallers
	}
	callers, _ := lru.New[string, *rate.Limiter](size) // size > 0: no error
	proven, _ := lru.New[credKey, struct{}](size)
	return &exchangeLimits{
		now:         now,
		callerRate:  rate.Limit(orDefaultF(cfg.CallerExchangeRate, DefaultAuth0CallerExchangeRate)),
		callerBurst: orDefaultI(cfg.CallerExchangeBurst, DefaultAuth0CallerExchangeBurst),
		callers:     callers,
		proven:      proven,
		provenCeil: rate.NewLimiter(rate.Limit(orDefaultF(cfg.ProvenExchangeRate, DefaultAuth0ProvenExchangeRate)),
			orDefaultI(cfg.ProvenExchangeBurst, DefaultAuth0ProvenExchangeBurst)),
		unproven: rate.NewLimiter(rate.Limit(orDefaultF(cfg.ExchangeRate, DefaultAuth0ExchangeRate)),
			orDefaultI(cfg.ExchangeBurst, DefaultAuth0ExchangeBurst)),
	}
}

func orDefaultF(v, def float64) float64 {
	if v <= 0 {
		return def
	}
	return v
}

func orDefaultI(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// admit takes one exchange from the caller's bucket and its ceiling, or
// neither, and reports whether the exchange may be made.
func (l *exchangeLimits) admit(key credKey, clientID string) bool {
	now := l.now()
	caller, ceiling, count := "id:"+clientID, l.unproven, &l.throttledUnproven
	if l.proven.Contains(key) {
		caller, ceiling, count = "cred:"+string(key[:]), l.provenCeil, &l.throttledProven
	}
	lim, ok := l.callers.Get(caller)
	if !ok {
		lim = rate.NewLimiter(l.callerRate, l.callerBurst)
		if prev, found, _ := l.callers.PeekOrAdd(caller, lim); found {
			lim = prev
		}
	}
	own := lim.ReserveN(now, 1)
	if !own.OK() || own.DelayFrom(now) > 0 {
		own.CancelAt(now)
		count.Add(1)
		return false
	}
	shared := ceiling.ReserveN(now, 1)
	if !shared.OK() || shared.DelayFrom(now) > 0 {
		shared.CancelAt(now)
		own.CancelAt(now)
		count.Add(1)
		return false
	}
	return true
}

// prove records that Auth0 accepted these credentials.
func (l *exchangeLimits) prove(key credKey) { l.proven.Add(key, struct{}{}) }

// LimitsStatus is the exchange limits' line on /status.
type LimitsStatus struct {
	// ProvenCredentials counts the credentials Auth0 accepted in this
	// process (at most MaxCallers are remembered).
	ProvenCredentials int `json:"provenCredentials"`
	// ThrottledProven and ThrottledUnproven count exchanges refused with
	// 429 since the start, by the ceiling they drew on.
	ThrottledProven   uint64 `json:"throttledProven"`
	ThrottledUnproven uint64 `json:"throttledUnproven"`
}

func (l *exchangeLimits) status() LimitsStatus {
	return LimitsStatus{ProvenCredentials: l.proven.Len(),
		ThrottledProven: l.throttledProven.Load(), ThrottledUnproven: l.throttledUnproven.Load()}
}
