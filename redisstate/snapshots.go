package redisstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/refresh"
	"github.com/redis/go-redis/v9"
)

// partTTL keeps a superseded part readable for a while, so a replica that
// read the pointer just before it moved still finds the part it names (a
// read takes milliseconds; a minute is ample). The current part has no
// expiry. A part of a 1,000-post blog is tens of megabytes, so an hour
// of superseded parts under steady editing would fill Redis.
const partTTL = time.Minute

// publishScript writes a part and moves the collection's pointer to it in
// one step, and only while the caller holds the leader lease: a leader that
// paused past its lease cannot overwrite a newer leader's snapshot. It does
// not compare versions: one leader writes, one worker per collection, and
// what it writes last is what followers serve. The part is written with an
// expiry that is removed once the pointer names it, so a write that fails
// half-way (OOM) leaves nothing that lasts; the part it replaces starts to
// expire. All keys share the {snapshot} hash tag.
// KEYS: lease, current, part. ARGV: owner, collection, version, bytes, ttl
// (seconds), the key prefix of this collection's parts.
var publishScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local old = redis.call('HGET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PERSIST', KEYS[3])
if old and old ~= ARGV[3] then redis.call('EXPIRE', ARGV[6] .. old, ARGV[5]) end
return 1
`)

// ErrNotLeader means the part was not written: another process leads. It
// wraps refresh.ErrNotStored, so the refresh side leaves the event for the
// leader without logging a failure (State is a refresh.PartSaver).
var ErrNotLeader = fmt.Errorf("%w: redisstate: not the leader; the part was not written", refresh.ErrNotStored)

// newVersion returns a version no other write can have, before or after
// Redis loses its data: unix nanoseconds, then 64 random bits in hex, e.g.
// "1767225600000000000-9f86d081884c7d65". It needs no Redis command.
func newVersion() string {
	b := make([]byte, 8)
	rand.Read(b)
	return strconv.FormatInt(time.Now().UnixNano(), 10) + "-" + hex.EncodeToString(b)
}

// SavePart stores p as its collection's current snapshot under a new
// version and tells the replicas, who install it whatever its revisions
// (the leader's decision is final). Readers never see a mix: the pointer
// moves only after the part is whole. Only the leader writes, and the
// caller serialises the writes of one collection.
//
// Errors: ErrNotLeader when this process does not hold the lease (checked
// again inside the write); otherwise the Redis error, wrapped, both for an
// outage and for a command the server refused (OOM): the part was not
// stored, and the event that produced it stays unacknowledged.
func (s *State) SavePart(ctx context.Context, p *cache.Part) error {
	if !s.leader.Load() {
		return ErrNotLeader
	}
	b, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	// A part can be megabytes: give the write time in proportion.
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout+time.Duration(len(b)>>20)*time.Second)
	defer cancel()
	version := newVersion()
	col := string(p.Collection)
	ok, err := publishScript.Run(ctx, s.rdb, []string{s.keys.lease, s.keys.current, s.keys.part(col, version)},
		s.id, col, version, b, int(partTTL.Seconds()), s.keys.part(col, "")).Int()
	if s.note(err) != nil {
		return fmt.Errorf("redisstate: saving %s: %w", p.Collection, err)
	}
	if ok == 0 {
		s.leader.Store(false)
		return ErrNotLeader
	}
	s.installMu.Lock()
	s.hold(p.Collection, version)
	s.installMu.Unlock()
	s.note(s.rdb.Publish(ctx, s.keys.updates, col+":"+version).Err())
	s.log.Info("redis: snapshot saved", "collection", col, "version", version, "bytes", len(b))
	return nil
}

// Versions returns the current version of each collection in Redis.
func (s *State) Versions(ctx context.Context) (map[cache.Collection]string, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	m, err := s.rdb.HGetAll(ctx, s.keys.current).Result()
	if s.note(err) != nil {
		return nil, err
	}
	out := map[cache.Collection]string{}
	for col, v := range m {
		out[cache.Collection(col)] = v
	}
	return out, nil
}

// LoadPart reads one stored version of a collection.
func (s *State) LoadPart(ctx context.Context, col cache.Collection, version string) (*cache.Part, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	b, err := s.rdb.Get(ctx, s.keys.part(string(col), version)).Bytes()
	if s.note(err) != nil {
		return nil, err
	}
	p, err := cache.UnmarshalPart(b)
	if err != nil {
		return nil, err
	}
	if p.Collection != col {
		return nil, fmt.Errorf("%w: %s stored under %s", cache.ErrCorrupt, p.Collection, col)
	}
	return p, nil
}

// Follow keeps this process in step with the snapshots the leader stores
// in Redis until ctx ends: it loads what is there now (a restart serves
// before Contentful answers), then every part the leader announces, and
// checks the pointers every interval in case an announcement was missed (a
// reconnect, say). A collection's part is loaded whenever its pointer names
// a version other than the one this process holds (wrote or loaded), and
// install is called with it whatever its revisions: the leader's decision
// is final, a forced refresh's lower revisions included. install must swap
// the part in (cache.Store.Put); it is not called while this process leads
// (the leader serves what it fetched and wrote itself), and calls are never
// concurrent. synced is closed once the first look at Redis is over
// (loaded, or Redis unreachable). A part that cannot be loaded is logged
// and tried again at the next look.
func (s *State) Follow(ctx context.Context, interval time.Duration, install func(*cache.Part), synced chan<- struct{}) {
	sync := func() {
		versions, err := s.Versions(ctx)
		if err != nil {
			return
		}
		for col, v := range versions {
			held := s.holds(col)
			if held == v || s.leader.Load() {
				continue
			}
			p, err := s.LoadPart(ctx, col, v)
			if err != nil {
				s.log.Warn("redis: snapshot not loaded", "collection", string(col), "version", v, "error", s.redact(err))
				continue
			}
			s.installMu.Lock()
			// Meanwhile this process may have written or loaded another
			// version, or taken the lease: the next look decides.
			if s.holds(col) == held && !s.leader.Load() {
				install(p)
				s.hold(col, v)
			}
			s.installMu.Unlock()
		}
	}
	sync()
	close(synced)
	sub := s.rdb.Subscribe(ctx, s.keys.updates)
	defer sub.Close()
	msgs := sub.Channel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m, ok := <-msgs:
			if !ok {
				return
			}
			col, v, _ := strings.Cut(m.Payload, ":")
			if s.holds(cache.Collection(col)) != v {
				sync()
			}
		case <-tick.C:
			sync()
		}
	}
}

// hold records the version of a collection this process holds (written or
// loaded), so it is not loaded again.
func (s *State) hold(col cache.Collection, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.versions == nil {
		s.versions = map[cache.Collection]string{}
	}
	s.versions[col] = version
}

// holds returns the version of col this process holds, "" if none.
func (s *State) holds(col cache.Collection) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions[col]
}
