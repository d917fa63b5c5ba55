package main

import (
	"context"
	"time"
)

// deadLetterReadTimeout bounds a scrape's read of the shared history.
const deadLetterReadTimeout = 2 * time.Second

// deadLetters is folio_dead_letters: the dead letters h keeps (with Redis,
// every replica's; while Redis is away, this process's).
func deadLetters(h history) func() int {
	return func() int {
		ctx, cancel := context.WithTimeout(context.Background(), deadLetterReadTimeout)
		defer cancel()
		return h.DeadLetterCount(ctx)
	}
}

// redisLeader is folio_redis_leader: 1 while this process holds the Redis
// lease, 0 while another does or Redis is away, -1 without Redis.
func redisLeader(d durability) func() float64 {
	r, ok := d.(*redisDurability)
	if !ok {
		return func() float64 { return -1 }
	}
	return func() float64 {
		if r.state.Leader() {
			return 1
		}
		return 0
	}
}
