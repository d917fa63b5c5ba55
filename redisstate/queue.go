package redisstate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/folio-cms/folio/refresh"
	"github.com/redis/go-redis/v9"
)

const (
	group = "folio"
	// streamMax bounds the stream; acknowledged entries beyond it go.
	streamMax = 100_000
	readBatch = 100
	// readBlock bounds one blocking read: a new entry returns it at once;
	// the bound only sets how fast the loop notices shutdown (go-redis does
	// not interrupt a blocked read on cancellation).
	readBlock = 250 * time.Millisecond
)

// Local is the process's own queue: the engine's input.
type Local interface {
	refresh.Enqueuer
	Put(ctx context.Context, e refresh.Event) error
}

// Queue is the durable event queue: a Redis stream read by the leader
// through a consumer group. While Redis is down it hands events to the local
// queue instead, so webhooks are still accepted and processed.
type Queue struct {
	s     *State
	local Local

	// lost says Redis lost its data and the leader has not yet caught up.
	lost atomic.Bool

	mu         sync.Mutex
	dispatched map[string]bool // stream ids handed to the engine, not yet acknowledged
	// held are events accepted while Redis was away. They were processed
	// locally; once Redis returns they go to the stream too, so the leader
	// makes every replica serve them (at-least-once: redoing one is cheap).
	held []refresh.Event
}

// maxHeld bounds the events remembered during an outage.
const maxHeld = 10_000

// NewQueue returns the durable queue over local.
func (s *State) NewQueue(local Local) *Queue {
	return &Queue{s: s, local: local, dispatched: map[string]bool{}}
}

// Enqueue holds e durably in Redis. When Redis is down, or refuses the
// write (OOM, say), e goes to the local queue instead and is remembered, to
// be added to the stream once Redis takes writes again (degraded: lost only
// if this process dies before then). It fails only when the local queue
// refuses e too.
func (q *Queue) Enqueue(ctx context.Context, e refresh.Event) error {
	if q.s.up.Load() {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		c, cancel := q.s.ctx(ctx)
		err = q.s.note(q.s.rdb.XAdd(c, &redis.XAddArgs{Stream: q.s.keys.stream, MaxLen: streamMax, Approx: true,
			Values: map[string]any{"event": b}}).Err())
		cancel()
		if err == nil {
			return nil
		}
		q.s.log.Warn("redis: event held in memory and processed here", "event", e.ID, "error", q.s.redact(err))
	}
	if err := q.local.Enqueue(ctx, e); err != nil {
		return err
	}
	q.mu.Lock()
	if len(q.held) < maxHeld {
		q.held = append(q.held, e)
	}
	q.mu.Unlock()
	return nil
}

// flushHeld adds the events accepted during an outage to the stream.
func (q *Queue) flushHeld(ctx context.Context) {
	q.mu.Lock()
	held := q.held
	q.held = nil
	q.mu.Unlock()
	for i, e := range held {
		b, _ := json.Marshal(e)
		c, cancel := q.s.ctx(ctx)
		err := q.s.note(q.s.rdb.XAdd(c, &redis.XAddArgs{Stream: q.s.keys.stream, MaxLen: streamMax, Approx: true,
			Values: map[string]any{"event": b}}).Err())
		cancel()
		if err != nil {
			q.mu.Lock()
			q.held = append(held[i:], q.held...)
			q.mu.Unlock()
			return
		}
	}
	if len(held) > 0 {
		q.s.log.Info("redis: events accepted during the outage handed to the stream", "count", len(held))
	}
}

// Ack acknowledges a finished event's stream entry. An event done whose
// snapshot could not be stored is left pending, so that a leader redoes it
// (at-least-once); so is one whose acknowledgement fails.
func (q *Queue) Ack(r refresh.Record) {
	if r.StreamID == "" {
		return
	}
	q.mu.Lock()
	delete(q.dispatched, r.StreamID)
	q.mu.Unlock()
	if r.Outcome == refresh.Done && !r.Persisted {
		q.s.log.Warn("redis: event left unacknowledged: its snapshot was not stored", "event", r.ID)
		return
	}
	if !q.s.up.Load() {
		return // pending in Redis: a leader redoes it after ClaimIdle
	}
	ctx, cancel := q.s.ctx(context.Background())
	defer cancel()
	if err := q.s.note(q.s.rdb.XAck(ctx, q.s.keys.stream, group, r.StreamID).Err()); err != nil {
		q.s.log.Warn("redis: event not acknowledged; it will be redone", "event", r.ID, "error", q.s.redact(err))
		q.checkGroup(ctx, err)
	}
}

// Run keeps the connection, contends for the leader lease, and while
// leading feeds the stream's events to the local queue, until ctx ends.
// onLeader runs on Run's goroutine each time this process becomes the
// leader, and again whenever the leader finds that Redis lost its data (the
// marker key gone or replaced, the consumer group gone, the lease found
// free while this process held it): a full refresh then catches up whatever
// happened meanwhile and stores new parts, so restarts and followers have
// snapshots again.
func (q *Queue) Run(ctx context.Context, onLeader func()) {
	s := q.s
	tick := s.opts.LeaseTTL / 3
	groupReady := false
	for ctx.Err() == nil {
		if !s.up.Load() {
			if s.ping(ctx) != nil {
				sleepCtx(ctx, time.Second)
				continue
			}
			groupReady = false
		}
		q.flushHeld(ctx)
		if !groupReady {
			groupReady = q.createGroup(ctx) == nil
		}
		was := s.leader.Load()
		l := s.holdLease(ctx)
		if l.lost {
			q.noteLoss(l.signal)
			groupReady = q.createGroup(ctx) == nil // a loss between the two calls above
		}
		lost := q.lost.Swap(false) // a follower's loss is caught up when it leads
		if !l.held {
			sleepCtx(ctx, tick)
			continue
		}
		switch {
		case !was:
			s.log.Info("redis: leading: this process fetches from Contentful for every replica")
		case l.acquired:
			s.log.Warn("redis: the leader lease had vanished (expired during a stall, or Redis lost it); taken again, refetching everything")
		case lost:
			s.log.Warn("redis: leader refetching everything after the data loss")
		}
		if (!was || l.acquired || lost) && onLeader != nil {
			onLeader()
		}
		q.claim(ctx)
		q.read(ctx, min(tick, readBlock))
	}
}

func (q *Queue) createGroup(ctx context.Context) error {
	c, cancel := q.s.ctx(ctx)
	defer cancel()
	err := q.s.rdb.XGroupCreateMkStream(c, q.s.keys.stream, group, "0").Err()
	if redis.HasErrorPrefix(err, "BUSYGROUP") {
		err = nil
	}
	return q.s.note(err)
}

// checkGroup handles err from a command on the consumer group: NOGROUP
// means the stream or its group is gone (deleted, or Redis lost its data),
// so the group is created again, reading the stream from its start, and the
// leader refetches everything, because the events it held are lost.
func (q *Queue) checkGroup(ctx context.Context, err error) {
	if !redis.HasErrorPrefix(err, "NOGROUP") {
		return
	}
	q.noteLoss("NOGROUP")
	q.createGroup(ctx)
}

// noteLoss records that Redis lost its data, as signal revealed; signals
// of one loss that arrive before the leader catches up are logged once.
func (q *Queue) noteLoss(signal string) {
	if !q.lost.Swap(true) {
		q.s.dataLost(signal)
	}
}

// claim takes over events another consumer (a dead leader) left
// unacknowledged for ClaimIdle.
func (q *Queue) claim(ctx context.Context) {
	c, cancel := q.s.ctx(ctx)
	defer cancel()
	msgs, _, err := q.s.rdb.XAutoClaim(c, &redis.XAutoClaimArgs{Stream: q.s.keys.stream, Group: group,
		Consumer: q.s.id, MinIdle: q.s.opts.ClaimIdle, Start: "0-0", Count: readBatch}).Result()
	if q.s.note(err) != nil {
		q.checkGroup(ctx, err)
		return
	}
	// An event this process is still working on is claimed again each
	// time it has been idle for ClaimIdle: only the others are news.
	if n := q.dispatch(ctx, msgs); n > 0 {
		q.s.log.Info("redis: took over unacknowledged events", "count", n)
	}
}

func (q *Queue) read(ctx context.Context, block time.Duration) {
	c, cancel := context.WithTimeout(ctx, block+q.s.opts.OpTimeout)
	defer cancel()
	res, err := q.s.rdb.XReadGroup(c, &redis.XReadGroupArgs{Group: group, Consumer: q.s.id,
		Streams: []string{q.s.keys.stream, ">"}, Count: readBatch, Block: block}).Result()
	if errors.Is(err, redis.Nil) || ctx.Err() != nil {
		return
	}
	if q.s.note(err) != nil {
		q.checkGroup(ctx, err)
		return
	}
	for _, st := range res {
		q.dispatch(ctx, st.Messages)
	}
}

// dispatch hands stream entries to the engine, each once while it runs,
// and returns how many it handed over (an unreadable entry counts: it is
// dropped).
func (q *Queue) dispatch(ctx context.Context, msgs []redis.XMessage) int {
	n := 0
	for _, m := range msgs {
		q.mu.Lock()
		busy := q.dispatched[m.ID]
		q.dispatched[m.ID] = true
		q.mu.Unlock()
		if busy {
			continue
		}
		n++
		raw, _ := m.Values["event"].(string)
		var e refresh.Event
		if err := json.Unmarshal([]byte(raw), &e); err != nil || e.ID == "" {
			q.s.log.Error("redis: unreadable event dropped", "stream_id", m.ID, "error", err)
			q.Ack(refresh.Record{Event: refresh.Event{StreamID: m.ID}, Outcome: refresh.Dead})
			continue
		}
		e.StreamID = m.ID
		if err := q.local.Put(ctx, e); err != nil {
			q.mu.Lock()
			delete(q.dispatched, m.ID)
			q.mu.Unlock()
			return n - 1
		}
	}
	return n
}

// Dedup remembers accepted changes in Redis, so every replica sees the same
// duplicates; while Redis is down it falls back to memory.
type Dedup struct {
	s      *State
	window time.Duration
	memory *refresh.MemoryDedup
}

// NewDedup returns the shared deduplication over Redis.
func (s *State) NewDedup(window time.Duration, memory *refresh.MemoryDedup) *Dedup {
	return &Dedup{s: s, window: window, memory: memory}
}

func (d *Dedup) key(k string) string {
	sum := sha256.Sum256([]byte(k))
	return d.s.keys.dedup + hex.EncodeToString(sum[:16])
}

// First marks key and reports whether it is new within the window.
func (d *Dedup) First(ctx context.Context, key string) (bool, error) {
	if d.s.up.Load() {
		c, cancel := d.s.ctx(ctx)
		ok, err := d.s.rdb.SetNX(c, d.key(key), 1, d.window).Result()
		cancel()
		if d.s.note(err) == nil {
			if ok {
				d.memory.First(ctx, key) // keep memory warm for an outage
			}
			return ok, nil
		}
	}
	return d.memory.First(ctx, key)
}

// Forget unmarks key.
func (d *Dedup) Forget(ctx context.Context, key string) {
	d.memory.Forget(ctx, key)
	if d.s.up.Load() {
		c, cancel := d.s.ctx(ctx)
		d.s.note(d.s.rdb.Del(c, d.key(key)).Err())
		cancel()
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
