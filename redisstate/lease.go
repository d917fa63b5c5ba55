package redisstate

import (
	"context"
	"maps"
	"strconv"
	"strings"

	"github.com/folio-cms/folio/cache"
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
	// It returns the pointers too, so that a leader sees writes lost
	// without the loss of everything: a failover promotes a replica that
	// may lack the primary's last writes (Redis replicates
	// asynchronously), the marker among the survivors.
	// KEYS: lease, marker, current. ARGV: owner, TTL (milliseconds), a new
	// marker. Returns {1 when the caller held the lease and renewed it, 2
	// when it was free and the caller took it, 0 when another holds it; the
	// marker; the pointers, collection and version by turns}.
	leaseScript = redis.NewScript(`
local m = redis.call('GET', KEYS[2])
if not m then
  redis.call('SET', KEYS[2], ARGV[3])
  m = ARGV[3]
end
local cur = redis.call('HGETALL', KEYS[3])
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, m, cur}
end
if v then return {0, m, cur} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {2, m, cur}`)
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
	// look only learns it), or, for a leader that kept its lease, a
	// pointer is behind the version it wrote (rolledBack): Redis lost
	// folio's data, or its last writes, meanwhile; signal names which
	// ("marker", "rollback").
	lost   bool
	signal string
}

// holdLease takes the leader lease if it is free, or renews it if held,
// and checks the data-loss marker. Any error counts as not leading, and
// as no news about the marker.
func (s *State) holdLease(ctx context.Context) lease {
	c, cancel := s.ctx(ctx)
	defer cancel()
	// What this process holds before the script reads the pointers: a
	// save or load that ends while the script runs changes what it holds
	// after the pointers were read, and is no rollback (rolledBack).
	before := s.heldVersions()
	res, err := leaseScript.Run(c, s.rdb, []string{s.keys.lease, s.keys.marker, s.keys.current},
		s.id, s.opts.LeaseTTL.Milliseconds(), newVersion()).Slice()
	var n int64
	var marker string
	current := map[string]string{}
	if err == nil && len(res) == 3 {
		n, _ = res[0].(int64)
		marker, _ = res[1].(string)
		pairs, _ := res[2].([]any)
		for i := 0; i+1 < len(pairs); i += 2 {
			col, _ := pairs[i].(string)
			current[col], _ = pairs[i+1].(string)
		}
	}
	if s.note(err) != nil || marker == "" {
		s.leader.Store(false)
		return lease{}
	}
	s.mu.Lock()
	prev := s.marker
	s.marker = marker
	s.mu.Unlock()
	l := lease{held: n != 0, acquired: n == 2}
	switch {
	case prev != "" && prev != marker:
		l.lost, l.signal = true, "marker"
	case n == 1 && s.rolledBack(before, current):
		l.lost, l.signal = true, "rollback"
	}
	if !l.held && s.leader.Load() {
		s.log.Warn("redis: lost the leader lease to another process")
	}
	s.leader.Store(l.held)
	return l
}

// heldVersions returns a copy of what this process holds, by collection.
func (s *State) heldVersions() map[cache.Collection]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.versions)
}

// rolledBack reports whether a pointer in Redis (current: collection →
// version, read after before was taken) is behind the version of its
// collection this process holds:
// the pointer names an older version (a version begins with the Unix
// nanoseconds of its write) or none. Asked by a leader that kept its lease,
// whose own writes no other process can have overwritten, it means that
// Redis lost writes it had taken: a failover to a replica they had not
// reached, or a restart from a persistence file that lacks them. The held
// versions become what Redis has, so one loss is reported once; the
// leader's catch-up then stores new parts. A collection whose held version
// is not the one before names was saved or loaded while the pointers were
// read: its pointer may predate the save, and it is left to the next
// renewal (a leader saving on every renewal during a burst of webhooks
// took each of its own saves for a loss, and each catch-up's saves for
// another).
func (s *State) rolledBack(before map[cache.Collection]string, current map[string]string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	back := false
	for col, held := range s.versions {
		cur, ok := current[string(col)]
		if held != before[col] || cur == held || (ok && versionTime(cur) > versionTime(held)) {
			continue
		}
		back = true
		if ok {
			s.versions[col] = cur
		} else {
			delete(s.versions, col)
		}
	}
	return back
}

// versionTime is the Unix nanoseconds a version begins with (newVersion),
// 0 for a version that has none.
func versionTime(v string) int64 {
	ns, _, _ := strings.Cut(v, "-")
	n, _ := strconv.ParseInt(ns, 10, 64)
	return n
}

// release gives the lease up if this process holds it (the script checks),
// so the others need not wait out its TTL.
func (s *State) release(ctx context.Context) {
	s.note(releaseScript.Run(ctx, s.rdb, []string{s.keys.lease}, s.id).Err())
	s.leader.Store(false)
}
