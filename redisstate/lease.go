package redisstate

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// Lease scripts: take, renew or release the leader lease; only the holder
// renews or releases it. Renewing is a PEXPIRE, which Redis allows when out
// of memory, so a leader keeps leading through an OOM.
var (
	// leaseScript also reads the marker, in the same step, so that a data
	// loss shows in the marker no later than in the lease: the marker is
	// a random value set by the first process that finds it absent; one
	// that saw a value and then finds none, or another, knows that the keys
	// were lost (FLUSHALL, a restart without persistence, eviction) even
	// where every command still succeeds.
	// KEYS: lease, marker. ARGV: owner, TTL (milliseconds), a new marker.
	// Returns {1 when the caller held the lease and renewed it, 2 when it
	// was free and the caller took it, 0 when another holds it; the marker}.
	leaseScript = redis.NewScript(`
local m = redis.call('GET', KEYS[2])
if not m then
  redis.call('SET', KEYS[2], ARGV[3])
  m = ARGV[3]
end
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, m}
end
if v then return {0, m} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {2, m}`)
	// KEYS: lease. ARGV: owner.
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
)

// lease is the outcome of one holdLease.
type lease struct {
	// held: this process leads now. acquired: it had to take the lease,
	// which was free (this process did not lead, or its lease vanished:
	// expired during a stall, or lost with Redis's data).
	held, acquired bool
	// lost: the marker is not the one this process saw last (the first
	// look only learns it): Redis lost folio's data meanwhile.
	lost bool
}

// holdLease takes the leader lease if it is free, or renews it if held,
// and checks the data-loss marker. Any error counts as not leading, and
// as no news about the marker.
func (s *State) holdLease(ctx context.Context) lease {
	c, cancel := s.ctx(ctx)
	defer cancel()
	res, err := leaseScript.Run(c, s.rdb, []string{s.keys.lease, s.keys.marker},
		s.id, s.opts.LeaseTTL.Milliseconds(), newVersion()).Slice()
	var n int64
	var marker string
	if err == nil && len(res) == 2 {
		n, _ = res[0].(int64)
		marker, _ = res[1].(string)
	}
	if s.note(err) != nil || marker == "" {
		s.leader.Store(false)
		return lease{}
	}
	s.mu.Lock()
	prev := s.marker
	s.marker = marker
	s.mu.Unlock()
	l := lease{held: n != 0, acquired: n == 2, lost: prev != "" && prev != marker}
	if !l.held && s.leader.Load() {
		s.log.Warn("redis: lost the leader lease to another process")
	}
	s.leader.Store(l.held)
	return l
}

// release gives the lease up if this process holds it (the script checks),
// so the others need not wait out its TTL.
func (s *State) release(ctx context.Context) {
	s.note(releaseScript.Run(ctx, s.rdb, []string{s.keys.lease}, s.id).Err())
	s.leader.Store(false)
}
