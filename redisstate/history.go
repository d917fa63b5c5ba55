package redisstate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/folio-cms/folio/refresh"
	"github.com/redis/go-redis/v9"
)

// The shared event history: every replica's event records and dead letters,
// in Redis, so that /status, /status/history, the dashboard and the admin
// routes read the same history on every replica, across restarts and leader
// changes.
//
// Keys (one hash tag, so that the scripts work on a Cluster):
//
//	<prefix>:{history}:events   sorted set: event id by ReceivedAt (µs)
//	<prefix>:{history}:records  hash: event id -> Record (JSON)
//	<prefix>:{history}:revs     hash: event id -> the stored record's UpdatedAt (µs)
//	<prefix>:{history}:dead     sorted set: dead letter id by when it died (µs)
//	<prefix>:{history}:deadrecs hash: dead letter id -> Record (JSON)
//	<prefix>:{history}:taken    sorted set: replayed dead letter id by the taken record's death (µs)
//
// Concurrent writers: a record is written whole by whichever process changes
// it, stamped with its UpdatedAt, and the write script keeps it only if no
// later stamp is stored: of two processes' writes the later change wins,
// whatever order they reach Redis in (a stalled old leader's late write
// loses to the new leader's). This assumes the replicas' clocks agree (NTP)
// far better than the time between two processes' changes of one event,
// which a stream hand-off separates (ClaimIdle, an operator's replay).
// A dead letter taken for a replay leaves a tombstone, so that a late or
// repeated write of the same death cannot bring it back; a new death (a
// later stamp) does. So does a dead letter whose event is written again
// after it died, not dead: a replay taken from a replica's memory while
// Redis was away (or any replay, once the engine begins it) ends it in
// Redis too, so that it cannot be replayed a second time.
var (
	// KEYS: records, revs, events, dead, deadrecs, taken. ARGV: the most
	// events (and dead letters) kept, the oldest score kept (µs; 0 for no
	// age bound), then per write: kind ("e" an event, "x" an event whose
	// outcome is dead, "d" a dead letter), id, stamp, score, record. An
	// event written after it died (its replay, on any replica) ends its
	// dead letter, leaving a tombstone; a death older than the stored event
	// is not written. Trims each set by age and count (at most 1,000 ids
	// per set per call). Returns the writes kept.
	historyPutScript = redis.NewScript(`
local n, oldest = tonumber(ARGV[1]), ARGV[2]
local kept = 0
for i = 3, #ARGV, 5 do
  local kind, id, rev, score, doc = ARGV[i], ARGV[i+1], tonumber(ARGV[i+2]), ARGV[i+3], ARGV[i+4]
  if kind ~= 'd' then
    local cur = redis.call('HGET', KEYS[2], id)
    if not cur or tonumber(cur) <= rev then
      redis.call('HSET', KEYS[1], id, doc)
      redis.call('HSET', KEYS[2], id, ARGV[i+2])
      redis.call('ZADD', KEYS[3], score, id)
      kept = kept + 1
      local died = kind == 'e' and redis.call('ZSCORE', KEYS[4], id)
      if died and tonumber(died) < rev then
        redis.call('ZREM', KEYS[4], id)
        redis.call('HDEL', KEYS[5], id)
        redis.call('ZADD', KEYS[6], died, id)
      end
    end
  else
    local cur = redis.call('ZSCORE', KEYS[4], id)
    local taken = redis.call('ZSCORE', KEYS[6], id)
    local ev = redis.call('HGET', KEYS[2], id)
    if (not cur or tonumber(cur) <= rev) and (not taken or tonumber(taken) < rev) and (not ev or tonumber(ev) <= rev) then
      redis.call('HSET', KEYS[5], id, doc)
      redis.call('ZADD', KEYS[4], score, id)
      redis.call('ZREM', KEYS[6], id)
      kept = kept + 1
    end
  end
end
local function trim(z, h1, h2)
  local drop = redis.call('ZCOUNT', z, '-inf', '(' .. oldest)
  local extra = redis.call('ZCARD', z) - n
  if extra > drop then drop = extra end
  if drop > 1000 then drop = 1000 end
  if drop <= 0 then return end
  local ids = redis.call('ZRANGE', z, 0, drop - 1)
  redis.call('ZREM', z, unpack(ids))
  if h1 then redis.call('HDEL', h1, unpack(ids)) end
  if h2 then redis.call('HDEL', h2, unpack(ids)) end
end
trim(KEYS[3], KEYS[1], KEYS[2])
trim(KEYS[4], KEYS[5])
trim(KEYS[6])
return kept`)

	// KEYS: events, records, dead, deadrecs. ARGV: events wanted, the
	// oldest score kept, dead letters wanted. Returns {events, dead
	// letters}, each newest first, as stored JSON.
	historyReadScript = redis.NewScript(`
local function read(z, h, limit)
  local out = {}
  if limit <= 0 then return out end
  local ids = redis.call('ZREVRANGEBYSCORE', z, '+inf', ARGV[2], 'LIMIT', 0, limit)
  for from = 1, #ids, 1000 do
    local docs = redis.call('HMGET', h, unpack(ids, from, math.min(from + 999, #ids)))
    for _, d in ipairs(docs) do
      if d then out[#out + 1] = d end
    end
  end
  return out
end
return {read(KEYS[1], KEYS[2], tonumber(ARGV[1])), read(KEYS[3], KEYS[4], tonumber(ARGV[3]))}`)

	// KEYS: dead, deadrecs, taken. ARGV: id. Removes the dead letter and
	// leaves its tombstone; returns it (JSON), or nil when there is none.
	historyTakeScript = redis.NewScript(`
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return false end
local doc = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], score, ARGV[1])
if not doc then return false end
return doc`)
)

const (
	// historyBuffer bounds the writes waiting for the writer; beyond it a
	// change is remembered by id and written from memory later.
	historyBuffer = 4096
	// historyBatch is the most records one script call writes.
	historyBatch = 100
	// historyRetry is how often changes Redis did not take (an outage, a
	// full buffer, a refused write) are written again from memory.
	historyRetry = time.Second
	// historyDrain bounds the writes made at shutdown.
	historyDrain = 2 * time.Second
)

// History is the shared event history over a process's own EventLog: the
// log's changes are written to Redis by one background writer (Run), so
// neither the engine nor a webhook ever waits on Redis; reads come from
// Redis, or from the log while Redis is away.
type History struct {
	s      *State
	mem    *refresh.EventLog
	keep   refresh.Retention
	keys   []string // records, revs, events, dead, deadrecs, taken
	writes chan historyWrite

	mu sync.Mutex
	// dirty and deadDirty name the records (events, dead letters) changed
	// while Redis could not take them: written again from memory once it
	// can. Each holds at most keep.Events ids; past that (a long outage),
	// overflow says to write everything memory holds instead, which is at
	// most keep.Events records of each kind and the newest of them.
	dirty, deadDirty map[string]bool
	overflow         bool

	// loss is the State's last data loss (DataLossAt) the writer has seen;
	// Run's goroutine only. A new one (FLUSHALL, a restart without
	// persistence) has the writer write everything memory holds again.
	loss time.Time
}

type historyWrite struct {
	dead bool
	r    refresh.Record
}

// NewHistory returns the shared history over mem and makes it mem's
// mirror; its retention is mem's. Run must run for writes to reach Redis.
func (s *State) NewHistory(mem *refresh.EventLog) *History {
	p := s.opts.Prefix + ":{history}:"
	h := &History{s: s, mem: mem, keep: mem.Retention(),
		keys:   []string{p + "records", p + "revs", p + "events", p + "dead", p + "deadrecs", p + "taken"},
		writes: make(chan historyWrite, historyBuffer), dirty: map[string]bool{}, deadDirty: map[string]bool{}}
	h.loss = s.Status().DataLossAt
	mem.SetMirror(h)
	return h
}

// Retention is what the history keeps.
func (h *History) Retention() refresh.Retention { return h.keep }

// Put queues the write of an event's record (refresh.Mirror); it never
// blocks.
func (h *History) Put(r refresh.Record) { h.offer(historyWrite{r: r}) }

// PutDead queues the write of a dead letter (refresh.Mirror); it never
// blocks.
func (h *History) PutDead(r refresh.Record) { h.offer(historyWrite{dead: true, r: r}) }

func (h *History) offer(w historyWrite) {
	if h.s.up.Load() {
		select {
		case h.writes <- w:
			return
		default:
		}
	}
	h.markDirty(w)
}

func (h *History) markDirty(ws ...historyWrite) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range ws {
		set := h.dirty
		if w.dead {
			set = h.deadDirty
		}
		if len(set) < h.keep.Events || set[w.r.ID] {
			set[w.r.ID] = true
		} else {
			h.overflow = true
		}
	}
}

// Run writes the queued changes to Redis until ctx ends, then what is
// still queued (for at most historyDrain). Changes Redis did not take are
// written again from memory every historyRetry once it takes writes; once
// the State finds that Redis lost its data, everything memory holds is.
func (h *History) Run(ctx context.Context) {
	tick := time.NewTicker(historyRetry)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			drain, cancel := context.WithTimeout(context.WithoutCancel(ctx), historyDrain)
			defer cancel()
			for batch := h.take(nil); len(batch) > 0 && drain.Err() == nil; batch = h.take(nil) {
				h.write(drain, batch)
			}
			h.retry(drain)
			return
		case w := <-h.writes:
			h.write(ctx, h.take([]historyWrite{w}))
		case <-tick.C:
			if loss := h.s.Status().DataLossAt; !loss.Equal(h.loss) {
				h.loss = loss
				h.mu.Lock()
				h.overflow = true // Redis lost the history: write all memory holds
				h.mu.Unlock()
			}
			h.retry(ctx)
		}
	}
}

// take adds to batch what is queued, up to historyBatch writes.
func (h *History) take(batch []historyWrite) []historyWrite {
	for len(batch) < historyBatch {
		select {
		case w := <-h.writes:
			batch = append(batch, w)
		default:
			return batch
		}
	}
	return batch
}

// retry writes the records changed while Redis could not take them, as
// memory holds them now (the stamps keep a newer write by another process):
// every record memory holds when more changed than it names.
func (h *History) retry(ctx context.Context) {
	if !h.s.up.Load() {
		return
	}
	h.mu.Lock()
	dirty, deadDirty, overflow := h.dirty, h.deadDirty, h.overflow
	if len(dirty)+len(deadDirty) == 0 && !overflow {
		h.mu.Unlock()
		return
	}
	h.dirty, h.deadDirty, h.overflow = map[string]bool{}, map[string]bool{}, false
	h.mu.Unlock()
	var batch []historyWrite
	if overflow {
		for _, r := range h.mem.Recent(h.keep.Events) {
			batch = append(batch, historyWrite{r: r})
		}
		for _, r := range h.mem.DeadLetters() {
			batch = append(batch, historyWrite{dead: true, r: r})
		}
	} else {
		for id := range dirty {
			if r, ok := h.mem.Get(id); ok {
				batch = append(batch, historyWrite{r: r})
			}
		}
		for id := range deadDirty {
			if r, ok := h.mem.Dead(id); ok {
				batch = append(batch, historyWrite{dead: true, r: r})
			}
		}
	}
	for len(batch) > 0 {
		n := min(len(batch), historyBatch)
		h.write(ctx, batch[:n])
		batch = batch[n:]
	}
}

// write stores batch in one script call; what Redis does not take is
// marked to be written again.
func (h *History) write(ctx context.Context, batch []historyWrite) {
	if !h.s.up.Load() {
		h.markDirty(batch...)
		return
	}
	args := make([]any, 0, 2+5*len(batch))
	args = append(args, h.keep.Events, h.oldest())
	for _, w := range batch {
		doc, err := json.Marshal(w.r)
		if err != nil {
			continue
		}
		rev := w.r.UpdatedAt.UnixMicro()
		switch {
		case w.dead:
			args = append(args, "d", w.r.ID, rev, rev, doc)
		case w.r.Outcome == refresh.Dead:
			args = append(args, "x", w.r.ID, rev, w.r.ReceivedAt.UnixMicro(), doc)
		default:
			args = append(args, "e", w.r.ID, rev, w.r.ReceivedAt.UnixMicro(), doc)
		}
	}
	c, cancel := h.s.ctx(ctx)
	err := historyPutScript.Run(c, h.s.rdb, h.keys, args...).Err()
	cancel()
	if h.s.note(err) != nil {
		h.markDirty(batch...)
	}
}

// oldest is the lowest score (µs) the retention keeps; 0 without an age
// bound.
func (h *History) oldest() int64 {
	if h.keep.MaxAge <= 0 {
		return 0
	}
	return time.Now().Add(-h.keep.MaxAge).UnixMicro()
}

// Read returns up to events events (at most the retention's count) and
// every dead letter, from Redis (Source "redis"), or from this process's
// memory (Source "memory") while Redis is away or the read fails.
func (h *History) Read(ctx context.Context, events int) refresh.View {
	return h.ReadUpTo(ctx, events, h.keep.Events)
}

// ReadUpTo is Read with at most dead dead letters, the newest.
func (h *History) ReadUpTo(ctx context.Context, events, dead int) refresh.View {
	events, dead = min(events, h.keep.Events), min(dead, h.keep.Events)
	if h.s.up.Load() {
		c, cancel := h.s.ctx(ctx)
		res, err := historyReadScript.Run(c, h.s.rdb, []string{h.keys[2], h.keys[0], h.keys[3], h.keys[4]},
			events, h.oldest(), dead).Slice()
		cancel()
		if h.s.note(err) == nil && len(res) == 2 {
			return refresh.View{Source: refresh.SourceRedis, Retention: h.keep,
				Events: h.records(res[0]), DeadLetters: h.records(res[1])}
		}
	}
	return h.mem.ReadUpTo(ctx, events, dead)
}

// DeadLetterCount is how many dead letters the history keeps: with Redis,
// every replica's (one ZCOUNT, no record read); this process's while Redis
// is away or the count fails.
func (h *History) DeadLetterCount(ctx context.Context) int {
	if h.s.up.Load() {
		c, cancel := h.s.ctx(ctx)
		n, err := h.s.rdb.ZCount(c, h.keys[3], strconv.FormatInt(h.oldest(), 10), "+inf").Result()
		cancel()
		if h.s.note(err) == nil {
			return int(n)
		}
	}
	return h.mem.DeadLetterCount(ctx)
}

// records decodes a list of stored records; an unreadable one is left out.
func (h *History) records(v any) []refresh.Record {
	docs, _ := v.([]any)
	out := make([]refresh.Record, 0, len(docs))
	for _, d := range docs {
		s, _ := d.(string)
		var r refresh.Record
		if err := json.Unmarshal([]byte(s), &r); err != nil || r.ID == "" {
			h.s.log.Warn("redis: unreadable history record left out", "error", err)
			continue
		}
		out = append(out, r)
	}
	return out
}

// TakeDead removes a dead letter for a replay, atomically across replicas:
// of two replays of one dead letter, on any replicas, one finds it (see
// refresh.DeadLetterTaker). While Redis is away it takes from this
// process's memory; a command Redis refuses is an error wrapping
// refresh.ErrUnavailable.
func (h *History) TakeDead(ctx context.Context, id string) (refresh.Record, bool, error) {
	if !h.s.up.Load() {
		return h.mem.TakeDead(ctx, id)
	}
	c, cancel := h.s.ctx(ctx)
	doc, err := historyTakeScript.Run(c, h.s.rdb, []string{h.keys[3], h.keys[4], h.keys[5]}, id).Text()
	cancel()
	switch classify(h.s.note(err)) {
	case errNone:
	case errOutage:
		return h.mem.TakeDead(ctx, id)
	default:
		return refresh.Record{}, false, fmt.Errorf("%w: the dead letter could not be taken: %s", refresh.ErrUnavailable, h.s.redact(err))
	}
	h.mem.TakeDead(ctx, id) // this process's copy, for an outage to come
	if errors.Is(err, redis.Nil) {
		return refresh.Record{}, false, nil
	}
	var r refresh.Record
	if err := json.Unmarshal([]byte(doc), &r); err != nil {
		return refresh.Record{}, false, fmt.Errorf("redisstate: dead letter %s unreadable: %w", id, err)
	}
	return r, true, nil
}

var (
	_ refresh.Mirror          = (*History)(nil)
	_ refresh.DeadLetterTaker = (*History)(nil)
)
