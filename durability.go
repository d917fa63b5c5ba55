package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/config"
	"github.com/folio-cms/folio/redisstate"
	"github.com/folio-cms/folio/refresh"
)

// durability is where events and snapshots outlive the process: memory
// only by default, Redis when REDIS_URL is set.
type durability struct {
	queue refresh.Enqueuer // webhooks and admin actions enqueue here
	// safety takes the periodic safety refresh: with Redis, only the
	// leader's (or, during an outage, each replica's own) counts.
	safety refresh.Enqueuer
	dedup  refresh.Deduper
	// follower reports that another process (the Redis leader) handles
	// events, so a webhook this replica finds unserved is passed on.
	follower func() bool
	ack      func(refresh.Record) // an event finished: acknowledge it if stored
	status   func() any           // the redis section of /status
	up       func() float64       // folio_redis_up
	// preload blocks until the snapshots stored in Redis are served
	// (bounded), before Contentful is asked; start runs the background
	// parts, each registered on wg so that shutdown can wait for them.
	preload func(ctx context.Context, wg *sync.WaitGroup)
	start   func(ctx context.Context, wg *sync.WaitGroup, engine *refresh.Engine)
	close   func()
}

func newDurability(cfg config.Config, src source, log *slog.Logger, store *cache.Store, loader *refresh.Loader, local *refresh.MemoryQueue) (*durability, error) {
	memDedup := refresh.NewMemoryDedup(cfg.DedupWindow, dedupSize)
	if cfg.RedisURL == "" {
		return &durability{
			queue: local, safety: local, dedup: memDedup, ack: func(refresh.Record) {},
			follower: func() bool { return false },
			status:   func() any { return map[string]bool{"configured": false, "connected": false} },
			up:       func() float64 { return -1 },
			preload:  func(context.Context, *sync.WaitGroup) {},
			start:    func(context.Context, *sync.WaitGroup, *refresh.Engine) {},
			close:    func() {},
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
	loader.SetSaver(leaderSaver{state})
	return &durability{
		queue: q,
		safety: enqueueFunc(func(ctx context.Context, e refresh.Event) error {
			if state.Leader() || !state.Up() {
				return local.Enqueue(ctx, e)
			}
			return nil // the leader refreshes for every replica
		}),
		dedup:    state.NewDedup(cfg.DedupWindow, memDedup),
		follower: func() bool { return state.Up() && !state.Leader() },
		ack:      q.Ack,
		status:   func() any { return state.Status() },
		up: func() float64 {
			if state.Up() {
				return 1
			}
			return 0
		},
		preload: func(ctx context.Context, wg *sync.WaitGroup) {
			synced := make(chan struct{})
			wg.Go(func() {
				state.Follow(ctx, 5*time.Second, func(p *cache.Part) {
					store.Put(p) // the leader's decision is final, lower revisions included
					log.Info("snapshot loaded from redis", "collection", string(p.Collection), "etag", p.Root.ETag())
				}, synced)
			})
			select {
			case <-synced:
			case <-time.After(3 * time.Second):
			case <-ctx.Done():
			}
		},
		start: func(ctx context.Context, wg *sync.WaitGroup, engine *refresh.Engine) {
			wg.Go(func() {
				q.Run(ctx, func() {
					// A new leader catches up on whatever happened while no
					// one led (or Redis was away): one fetch per collection.
					if _, err := engine.RefreshAll(ctx, local, "leader-catch-up"); err != nil {
						log.Warn("catch-up refresh not queued", "error", err)
					}
				})
			})
		},
		close: func() { state.Close() },
	}, nil
}

// enqueueFunc adapts a function to refresh.Enqueuer.
type enqueueFunc func(ctx context.Context, e refresh.Event) error

func (f enqueueFunc) Enqueue(ctx context.Context, e refresh.Event) error { return f(ctx, e) }

// leaderSaver stores parts in Redis; a follower's part is deliberately not
// stored (the leader stores), which refresh.ErrNotStored says.
type leaderSaver struct{ state *redisstate.State }

func (s leaderSaver) SavePart(ctx context.Context, p *cache.Part) error {
	err := s.state.SavePart(ctx, p)
	if errors.Is(err, redisstate.ErrNotLeader) {
		return fmt.Errorf("%w: %w", refresh.ErrNotStored, err)
	}
	return err
}
