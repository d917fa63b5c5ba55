package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/config"
	"github.com/folio-cms/folio/handlers"
	"github.com/folio-cms/folio/redisstate"
	"github.com/folio-cms/folio/refresh"
)

// durability is where accepted events and installed parts outlive the
// process: memoryDurability by default, redisDurability when REDIS_URL is
// set (durability_redis.go). Each hands the refresh side the small
// interfaces it declares (refresh.Enqueuer, refresh.Deduper,
// refresh.PartSaver) and runs what it needs in the background.
type durability interface {
	// Queue takes webhooks and admin actions.
	Queue() refresh.Enqueuer
	// SafetyQueue takes the periodic safety refresh: with Redis only the
	// leader's counts (or, during an outage, each replica's own).
	SafetyQueue() refresh.Enqueuer
	Dedup() refresh.Deduper
	// History is the event history the routes read and replays take
	// dead letters from: the engine's own log, or the one every replica
	// shares in Redis.
	History() history
	// Saver keeps installed parts; nil keeps them in memory only.
	Saver() refresh.PartSaver
	// Ack is told of every finished event (a durable queue acknowledges it
	// there if its part was stored).
	Ack(r refresh.Record)
	// Follows reports that another process (the Redis leader) processes
	// events, so a webhook this replica finds unserved is passed on.
	Follows() bool
	// Status is the redis section of /status; Up is folio_redis_up (-1
	// when Redis is not configured).
	Status() any
	Up() float64
	// Preload blocks (bounded) until stored snapshots are served through
	// install, before Contentful is asked; Start runs the background parts,
	// each on wg so that shutdown can wait for them; Close releases what
	// they hold.
	Preload(ctx context.Context, wg *sync.WaitGroup, install func(context.Context, *cache.Part) error)
	Start(ctx context.Context, wg *sync.WaitGroup, engine *refresh.Engine)
	Close()
}

// history is what the routes read (handlers.EventHistory) and what a replay
// takes a dead letter from.
// statusListed is how many events and how many dead letters /status lists,
// the newest (the rest are on /status/history and /admin/dead-letters).
const statusListed = 50

type history interface {
	handlers.EventHistory
	refresh.DeadLetterTaker
	// ReadUpTo is Read with at most dead dead letters (/status).
	ReadUpTo(ctx context.Context, events, dead int) refresh.View
	// DeadLetterCount counts the dead letters without reading them
	// (folio_dead_letters, on every scrape).
	DeadLetterCount(ctx context.Context) int
}

func newDurability(cfg config.Config, src source, log *slog.Logger, local *refresh.MemoryQueue, events *refresh.EventLog) (durability, error) {
	mem := &memoryDurability{local: local, dedup: refresh.NewMemoryDedup(cfg.DedupWindow, dedupSize), events: events}
	if cfg.RedisURL == "" {
		return mem, nil
	}
	return newRedisDurability(cfg, src, log, mem)
}

// memoryDurability keeps everything in this process: an event accepted and
// not yet processed is lost if it dies; the safety refresh repairs content.
type memoryDurability struct {
	local  *refresh.MemoryQueue
	dedup  *refresh.MemoryDedup
	events *refresh.EventLog
}

func (m *memoryDurability) Queue() refresh.Enqueuer       { return m.local }
func (m *memoryDurability) SafetyQueue() refresh.Enqueuer { return m.local }
func (m *memoryDurability) Dedup() refresh.Deduper        { return m.dedup }
func (m *memoryDurability) History() history              { return m.events }
func (m *memoryDurability) Saver() refresh.PartSaver      { return nil }
func (m *memoryDurability) Ack(refresh.Record)            {}
func (m *memoryDurability) Follows() bool                 { return false }
func (m *memoryDurability) Up() float64                   { return -1 }
func (m *memoryDurability) Preload(context.Context, *sync.WaitGroup, func(context.Context, *cache.Part) error) {
}
func (m *memoryDurability) Start(context.Context, *sync.WaitGroup, *refresh.Engine) {}
func (m *memoryDurability) Close()                                                  {}
func (m *memoryDurability) Status() any {
	return map[string]bool{"configured": false, "connected": false}
}

var (
	_ durability        = (*memoryDurability)(nil)
	_ durability        = (*redisDurability)(nil)
	_ refresh.PartSaver = (*redisstate.State)(nil)
)
