package redisstate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/redis/go-redis/v9"
)

// partTTL keeps a superseded part readable for a while, so a replica that
// read the pointer just before it moved still finds the part it names. The
// current part has no expiry.
const partTTL = time.Hour

// publishScript writes a part and moves the collection's pointer to it in
// one step, and only while the caller holds the leader lease: a leader that
// paused past its lease cannot overwrite a newer leader's snapshot, and a
// write that lost a race to a later version leaves the pointer alone. The
// part it replaces starts to expire. All keys share the {snapshot} hash tag.
// KEYS: lease, current, part. ARGV: owner, collection, version, bytes, ttl,
// the key prefix of this collection's parts.
var publishScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local old = redis.call('HGET', KEYS[2], ARGV[2])
if old and tonumber(old) > tonumber(ARGV[3]) then return 2 end
redis.call('SET', KEYS[3], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
if old and old ~= ARGV[3] then redis.call('EXPIRE', ARGV[6] .. old, ARGV[5]) end
return 1
`)

// ErrNotLeader means the part was not written: another process leads.
var ErrNotLeader = errors.New("redisstate: not the leader; the part was not written")

// SavePart stores a part as the collection's current snapshot and tells the
// replicas. Readers never see a mix: the pointer moves only after the part
// is whole. Only the leader writes.
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
	seq, err := s.rdb.Incr(ctx, s.keys.seq).Result()
	if s.note(err) != nil {
		return fmt.Errorf("redisstate: saving %s: %w", p.Collection, err)
	}
	version := strconv.FormatInt(seq, 10)
	col := string(p.Collection)
	ok, err := publishScript.Run(ctx, s.rdb, []string{s.keys.lease, s.keys.current, s.keys.part(col, version)},
		s.id, col, version, b, int(partTTL.Seconds()), s.keys.part(col, "")).Int()
	if s.note(err) != nil {
		return fmt.Errorf("redisstate: saving %s: %w", p.Collection, err)
	}
	switch ok {
	case 0:
		s.leader.Store(false)
		return ErrNotLeader
	case 2:
		return nil // a later version is already current
	}
	s.seen(p.Collection, version)
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

// Follow keeps store in step with the snapshots in Redis until ctx ends:
// it loads what is there now (a restart serves before Contentful answers),
// then every part the leader announces, and checks the pointers every
// interval in case an announcement was missed (a reconnect, say).
// onLoad is called after each part swapped in; synced is closed once the
// first look at Redis is over (loaded, or Redis unreachable).
func (s *State) Follow(ctx context.Context, store *cache.Store, interval time.Duration, onLoad func(*cache.Part), synced chan<- struct{}) {
	sync := func() {
		versions, err := s.Versions(ctx)
		if err != nil {
			return
		}
		for col, v := range versions {
			if s.hasSeen(col, v) {
				continue
			}
			p, err := s.LoadPart(ctx, col, v)
			if err != nil {
				s.log.Warn("redis: snapshot not loaded", "collection", string(col), "version", v, "error", err)
				continue
			}
			s.seen(col, v)
			if store.PutUnlessOlder(p) && onLoad != nil {
				onLoad(p)
			}
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
			if !s.hasSeen(cache.Collection(col), v) {
				sync()
			}
		case <-tick.C:
			sync()
		}
	}
}

// seen records the version of a collection this process holds (written or
// loaded), so it is not loaded again.
func (s *State) seen(col cache.Collection, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.versions == nil {
		s.versions = map[cache.Collection]string{}
	}
	s.versions[col] = version
}

func (s *State) hasSeen(col cache.Collection, version string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions[col] == version
}
