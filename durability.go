package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/config"
	"github.com/folio-cms/folio/handlers"
	"github.com/folio-cms/folio/redisstate"
	"github.com/folio-cms/folio/refresh"
)

// durability is where events and snapshots outlive the process: memory
// only by default, Redis when REDIS_URL is set.
type durability struct {
	queue refresh.Enqueuer // webhooks and admin actions enqueue here
	// safety takes the periodic safety refresh: with Redis, only the
	// leader's counts (one refetch per interval for all replicas).
	safety refresh.Enqueuer
	dedup  handlers.Deduper
	ack    func(refresh.Record) // an event's snapshot is stored
	status func() any           // the redis section of /status
	up     func() float64       // folio_redis_up
	// start runs the background parts; preload blocks until snapshots
	// stored in Redis are served (bounded), before Contentful is asked.
	start   func(ctx context.Context, engine *refresh.Engine)
	preload func(ctx context.Context)
	close   func()
}

func newDurability(cfg config.Config, src source, log *slog.Logger, store *cache.Store, loader *refresh.Loader, local *refresh.MemoryQueue) (*durability, error) {
	memDedup := refresh.NewMemoryDedup(cfg.DedupWindow, dedupSize)
	if cfg.RedisURL == "" {
		return &durability{
			queue: local, safety: local, dedup: memDedup, ack: func(refresh.Record) {},
			status:  func() any { return map[string]bool{"configured": false, "connected": false} },
			up:      func() float64 { return -1 },
			start:   func(context.Context, *refresh.Engine) {},
			preload: func(context.Context) {},
			close:   func() {},
		}, nil
	}
	// Keys are scoped to the space and environment, so deployments sharing
	// one Redis (production and staging, say) never mix.
	state, err := redisstate.New(redisstate.Options{URL: cfg.RedisURL.Reveal(), LeaseTTL: cfg.RedisLeaseTTL,
		ClaimIdle: cfg.RedisClaimIdle, Logger: log, Prefix: "folio:" + src.space + ":" + src.env})
	if err != nil {
		return nil, err
	}
	q := state.NewQueue(local)
	synced := make(chan struct{})
	loader.SetPersist(func(p *cache.Part) error {
		if !state.Leader() {
			return nil // the leader writes; a follower serves what it loaded
		}
		return state.SavePart(context.Background(), p)
	})
	return &durability{
		queue:  q,
		dedup:  state.NewDedup(cfg.DedupWindow, memDedup),
		ack:    q.Ack,
		status: func() any { return state.Status() },
		up: func() float64 {
			if state.Up() {
				return 1
			}
			return 0
		},
		start: func(ctx context.Context, engine *refresh.Engine) {
			go q.Run(ctx, func() {
				// A new leader catches up on whatever happened while no
				// one led (or Redis was away): one fetch per collection.
				if _, err := engine.RefreshAll(ctx, local, "leader-catch-up"); err != nil {
					log.Warn("catch-up refresh not queued", "error", err)
				}
			})
		},
		preload: func(ctx context.Context) {
			go state.Follow(ctx, store, 5*time.Second, func(p *cache.Part) {
				log.Info("snapshot loaded from redis", "collection", string(p.Collection), "etag", p.Root.ETag())
			}, synced)
			select {
			case <-synced:
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
			}
		},
		close: func() { state.Close() },
	}, nil
}

// enqueueFunc adapts a function to refresh.Enqueuer.
type enqueueFunc func(ctx context.Context, e refresh.Event) error

func (f enqueueFunc) Enqueue(ctx context.Context, e refresh.Event) error { return f(ctx, e) }
