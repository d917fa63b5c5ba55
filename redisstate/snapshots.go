package redisstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
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
// expiry, nor have the resource blobs it names; the blobs only the
// superseded part named expire with it.
const partTTL = time.Minute

// A part is stored content-addressed: a small meta record under
// part:<collection>:<version> (cache.Part.Stored: everything but the
// resources' bytes and the entities' JSON; each route names its resource's
// hash and keeps its own Last-Modified, each entity names its JSON's) and
// one blob per distinct resource (identity, gzip and brotli bytes) or
// entity (its packed JSON) under res:<collection>:<name>, shared by every
// version that holds those bytes. A one-post change writes a few blobs
// (the post, its entity, the list pages it is on) and the meta; a follower
// reads the meta and the blobs it does not hold. The set live:<collection>
// lists the names the current part uses, so the next publish knows which
// blobs it drops.

// publishScript moves a collection to a new part in one step, and only
// while the caller holds the leader lease: a leader that paused past its
// lease cannot overwrite a newer leader's snapshot. It does not compare
// versions: one leader writes, one worker per collection, and what it
// writes last is what followers serve. Every blob the part names must be
// there (the caller wrote the missing ones, with an expiry): if one is not
// (it expired or Redis lost its data meanwhile) nothing changes and it
// returns -1. The meta is written with an expiry that is removed once the
// pointer names it, so a write that fails half-way (OOM) leaves nothing
// that lasts; the blobs it names lose their expiry; the part it replaces,
// and the blobs only that part named, start to expire. All keys share the
// {snapshot} hash tag (the blobs' keys are built from their prefix and
// hashes, to keep a save of thousands of resources small, as the replaced
// part's key is).
// KEYS: lease, current, part, live. ARGV: owner, collection, version, meta
// bytes, ttl (seconds), the key prefix of this collection's parts, that of
// its blobs, then the hashes the part names.
var publishScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 8, #ARGV do
  if redis.call('EXISTS', ARGV[7] .. ARGV[i]) == 0 then return -1 end
end
local old = redis.call('HGET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5])
local names = {}
for i = 8, #ARGV do
  redis.call('PERSIST', ARGV[7] .. ARGV[i])
  names[ARGV[i]] = true
end
for _, h in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if not names[h] then redis.call('EXPIRE', ARGV[7] .. h, ARGV[5]) end
end
redis.call('DEL', KEYS[4])
for i = 8, #ARGV, 500 do
  redis.call('SADD', KEYS[4], unpack(ARGV, i, math.min(i + 499, #ARGV)))
end
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('PERSIST', KEYS[3])
if old and old ~= ARGV[3] then redis.call('EXPIRE', ARGV[6] .. old, ARGV[5]) end
return 1
`)

// errBlobGone: a blob the part names went between the check and the
// publish (it expired, or Redis lost its data).
var errBlobGone = errors.New("redisstate: a resource blob went before the part was published")

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
	meta, res, err := p.Stored()
	if err != nil {
		return err
	}
	hashes := slices.Sorted(maps.Keys(res))
	col := string(p.Collection)
	var version string
	var written, blobs int
	s.mu.Lock()
	held := s.held[p.Collection]
	s.mu.Unlock()
	for range 2 { // once more, checking every blob, if a blob went
		version, written, blobs, err = s.publish(ctx, p, meta, res, hashes, held)
		if !errors.Is(err, errBlobGone) {
			break
		}
		held = nil
	}
	if errors.Is(err, ErrNotLeader) || errors.Is(err, errBlobGone) {
		return err
	}
	if err != nil {
		return fmt.Errorf("redisstate: saving %s: %w", p.Collection, err)
	}
	s.note(s.rdb.Publish(ctx, s.keys.updates, col+":"+version).Err())
	s.log.Info("redis: snapshot saved", "collection", col, "version", version,
		"bytes", written, "blobs_written", blobs, "blobs", len(hashes))
	return nil
}

// publish writes the blobs of p that Redis lacks (with an expiry the
// publish removes), then the meta under a new version and moves the
// pointer. It returns the version and the bytes and blobs written. The
// blobs in held (those of the part this process last wrote or loaded, all
// current, so without expiry) are taken to be there without asking: a
// change at 10,000 posts asks about the few it made, not 20,000 keys; if
// one went after all (Redis lost its data), the script says so
// (errBlobGone) and the caller publishes again with held nil.
func (s *State) publish(ctx context.Context, p *cache.Part, meta []byte, res map[string]cache.Blob, hashes []string, held map[string]cache.Blob) (string, int, int, error) {
	col := string(p.Collection)
	keys := make([]string, len(hashes))
	for i, h := range hashes {
		keys[i] = s.keys.res(col, h)
	}
	// A first save asks about every blob: tens of thousands of EXISTS.
	cctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout+time.Duration(len(keys)/5000)*time.Second)
	exists := make([]*redis.IntCmd, len(keys))
	_, err := s.rdb.Pipelined(cctx, func(pl redis.Pipeliner) error {
		for i, k := range keys {
			if held[hashes[i]] == nil {
				exists[i] = pl.Exists(cctx, k)
			}
		}
		return nil
	})
	cancel()
	if s.note(err) != nil {
		return "", 0, 0, err
	}
	var missing []int
	written := len(meta)
	for i, c := range exists {
		if c != nil && c.Val() == 0 {
			missing = append(missing, i)
			written += res[hashes[i]].Size() * 2 // a resource's forms: less than twice its identity
		}
	}
	// Blobs can be megabytes: give the write time in proportion.
	wctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout+time.Duration(written>>20)*time.Second)
	defer cancel()
	written, blobs := len(meta), len(missing)
	for len(missing) > 0 { // in batches of a few MB: a first save is hundreds
		var batch int
		_, err = s.rdb.Pipelined(wctx, func(pl redis.Pipeliner) error {
			for batch < saveBatch && len(missing) > 0 {
				i := missing[0]
				missing = missing[1:]
				b := res[hashes[i]].MarshalBlob()
				batch += len(b)
				pl.Set(wctx, keys[i], b, partTTL)
			}
			return nil
		})
		written += batch
		if s.note(err) != nil {
			return "", 0, 0, err
		}
	}
	version := newVersion()
	args := make([]any, 0, 7+len(hashes))
	args = append(args, s.id, col, version, meta, int(partTTL.Seconds()), s.keys.part(col, ""), s.keys.res(col, ""))
	for _, h := range hashes {
		args = append(args, h)
	}
	ok, err := publishScript.Run(wctx, s.rdb, []string{s.keys.lease, s.keys.current, s.keys.part(col, version), s.keys.live(col)},
		args...).Int()
	if s.note(err) != nil {
		return "", 0, 0, err
	}
	switch ok {
	case 0:
		s.leader.Store(false)
		return "", 0, 0, ErrNotLeader
	case -1:
		return "", 0, 0, errBlobGone
	}
	s.installMu.Lock()
	s.hold(p.Collection, version)
	s.keep(p.Collection, res)
	s.installMu.Unlock()
	return version, written, blobs, nil
}

// saveBatch is how many bytes of blobs one pipeline of a save carries.
const saveBatch = 8 << 20

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

// LoadPart reads one stored version of a collection: its meta, then the
// blobs this process does not hold already (from the part it last wrote or
// loaded). A blob that is not there (Redis lost it) makes the part
// unloadable for now: an error.
func (s *State) LoadPart(ctx context.Context, col cache.Collection, version string) (*cache.Part, error) {
	p, _, err := s.loadPart(ctx, col, version)
	return p, err
}

// loadPart is LoadPart, also returning the blobs the part is made of.
func (s *State) loadPart(ctx context.Context, col cache.Collection, version string) (*cache.Part, map[string]cache.Blob, error) {
	gctx, cancel := s.ctx(ctx)
	b, err := s.rdb.Get(gctx, s.keys.part(string(col), version)).Bytes()
	cancel()
	if s.note(err) != nil {
		return nil, nil, err
	}
	m, err := cache.UnmarshalMeta(b)
	if err != nil {
		return nil, nil, err
	}
	if m.Collection() != col {
		return nil, nil, fmt.Errorf("%w: %s stored under %s", cache.ErrCorrupt, m.Collection(), col)
	}
	s.mu.Lock()
	held := s.held[col]
	s.mu.Unlock()
	names := m.Blobs()
	got := make(map[string]cache.Blob, len(names))
	var keys, want []string
	for _, h := range names {
		if r := held[h]; r != nil {
			got[h] = r
			continue
		}
		keys = append(keys, s.keys.res(string(col), h))
		want = append(want, h)
	}
	for len(keys) > 0 { // in batches, each with its own bound: a 10,000-post part is 20,000 blobs
		n := min(len(keys), loadBatch)
		mctx, cancel := s.ctx(ctx)
		vals, err := s.rdb.MGet(mctx, keys[:n]...).Result()
		cancel()
		if s.note(err) != nil {
			return nil, nil, err
		}
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				return nil, nil, fmt.Errorf("redisstate: %s version %s: blob %s is gone", col, version, want[i])
			}
			r, err := cache.UnmarshalBlob(want[i], []byte(str))
			if err != nil {
				return nil, nil, err
			}
			got[want[i]] = r
		}
		keys, want = keys[n:], want[n:]
		if batchHook != nil {
			batchHook()
		}
	}
	p, err := m.Part(func(h string) cache.Blob { return got[h] })
	return p, got, err
}

// loadBatch is how many blobs one MGET of a load asks for (a variable for
// tests).
var loadBatch = 500

// batchHook, when set (by tests only), runs after each batch of a load.
var batchHook func()

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
			p, blobs, err := s.loadPart(ctx, col, v)
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
				s.keep(col, blobs)
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

// keep records the blobs, by name, of the part of col this process holds,
// for the next load to reuse.
func (s *State) keep(col cache.Collection, res map[string]cache.Blob) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held = map[cache.Collection]map[string]cache.Blob{}
	}
	s.held[col] = res
}

// holds returns the version of col this process holds, "" if none.
func (s *State) holds(col cache.Collection) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.versions[col]
}
