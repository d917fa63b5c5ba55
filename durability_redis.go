package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/config"
	"github.com/folio-cms/folio/redisstate"
	"github.com/folio-cms/folio/refresh"
)

// redisDurability keeps events in a Redis stream and parts in Redis, with
// one leader fetching for every replica (redisstate). While Redis is away
// it falls back to the memory parts it holds.
type redisDurability struct {
	state *redisstate.State
	queue *redisstate.Queue
	dedup *redisstate.Dedup
	hist  *redisstate.History
	mem   *memoryDurability
	log   *slog.Logger
}

func newRedisDurability(cfg config.Config, src source, log *slog.Logger, mem *memoryDurability) (*redisDurability, error) {
	// Keys are scoped to the space and environment, so deployments sharing
	// one Redis (production and staging, say) never mix.
	state, err := redisstate.New(redisstate.Options{URL: cfg.RedisURL.Reveal(), LeaseTTL: cfg.RedisLeaseTTL,
		ClaimIdle: cfg.RedisClaimIdle, Logger: log, Prefix: "folio:" + src.space + ":" + src.env})
	if err != nil {
		return nil, err
	}
	return &redisDurability{state: state, queue: state.NewQueue(mem.local), dedup: state.NewDedup(cfg.DedupWindow, mem.dedup),
		hist: state.NewHistory(mem.events), mem: mem, log: log}, nil
}

func (r *redisDurability) Queue() refresh.Enqueuer       { return r.queue }
func (r *redisDurability) SafetyQueue() refresh.Enqueuer { return leaderOnly{r} }
func (r *redisDurability) Dedup() refresh.Deduper        { return r.dedup }
func (r *redisDurability) History() history              { return r.hist }
func (r *redisDurability) Saver() refresh.PartSaver      { return r.state }
func (r *redisDurability) Ack(rec refresh.Record)        { r.queue.Ack(rec) }
func (r *redisDurability) Follows() bool                 { return r.state.Up() && !r.state.Leader() }
func (r *redisDurability) Status() any                   { return r.state.Status() }
func (r *redisDurability) Close()                        { r.state.Close() }

func (r *redisDurability) Up() float64 {
	if r.state.Up() {
		return 1
	}
	return 0
}

// Preload serves the parts stored in Redis (waiting at most 3 s), then
// keeps following the leader's, each through install (refresh's
// Loader.Adopt).
func (r *redisDurability) Preload(ctx context.Context, wg *sync.WaitGroup, install func(context.Context, *cache.Part) error) {
	synced := make(chan struct{})
	wg.Go(func() {
		r.state.Follow(ctx, 5*time.Second, func(p *cache.Part) {
			if err := install(ctx, p); err != nil {
				r.log.Warn("snapshot from redis not installed", "collection", string(p.Collection), "error", err)
				return
			}
			r.log.Info("snapshot loaded from redis", "collection", string(p.Collection), "etag", p.Root.ETag())
		}, synced)
	})
	select {
	case <-synced:
	case <-time.After(3 * time.Second):
	case <-ctx.Done():
	}
}

// Start writes the event history to Redis, and contends for the lease and,
// while leading, feeds the stream to the engine. A new leader (or one that finds Redis lost its data) catches up
// on whatever happened meanwhile: a full refresh at once and another once
// the CDN lag bound has passed (Engine.CatchUp).
func (r *redisDurability) Start(ctx context.Context, wg *sync.WaitGroup, engine *refresh.Engine) {
	wg.Go(func() { r.hist.Run(ctx) })
	wg.Go(func() {
		r.queue.Run(ctx, func() {
			if err := engine.CatchUp(ctx, r.mem.local, "leader-catch-up"); err != nil {
				r.log.Warn("catch-up refresh not queued", "error", err)
			}
		})
	})
}

// leaderOnly queues the safety refresh on the leader, or on every replica
// while Redis is away; a follower's is dropped, since the leader's serves
// every replica.
type leaderOnly struct{ r *redisDurability }

func (l leaderOnly) Enqueue(ctx context.Context, e refresh.Event) error {
	if l.r.state.Leader() || !l.r.state.Up() {
		return l.r.mem.local.Enqueue(ctx, e)
	}
	return nil
}
