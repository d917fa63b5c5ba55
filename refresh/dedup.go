package refresh

import (
	"context"
	"sync"
	"time"
)

// MemoryDedup remembers accepted keys for a window, in process memory,
// bounded so a flood of distinct keys cannot grow it without limit.
type MemoryDedup struct {
	window time.Duration
	max    int
	now    func() time.Time

	mu   sync.Mutex
	seen map[string]time.Time // key → when it expires
}

// NewMemoryDedup remembers up to max keys for window each.
func NewMemoryDedup(window time.Duration, max int) *MemoryDedup {
	return &MemoryDedup{window: window, max: max, now: time.Now, seen: map[string]time.Time{}}
}

// SetClock replaces time.Now, for tests.
func (d *MemoryDedup) SetClock(now func() time.Time) { d.now = now }

// First reports whether key is new within the window, and marks it.
func (d *MemoryDedup) First(_ context.Context, key string) (bool, error) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if exp, ok := d.seen[key]; ok && now.Before(exp) {
		return false, nil
	}
	if len(d.seen) >= d.max {
		d.prune(now)
	}
	d.seen[key] = now.Add(d.window)
	return true, nil
}

// Forget unmarks key.
func (d *MemoryDedup) Forget(_ context.Context, key string) {
	d.mu.Lock()
	delete(d.seen, key)
	d.mu.Unlock()
}

// prune drops expired keys, and if that is not enough, the oldest half: a
// duplicate processed twice costs one refetch; a lost event costs content.
func (d *MemoryDedup) prune(now time.Time) {
	for k, exp := range d.seen {
		if !now.Before(exp) {
			delete(d.seen, k)
		}
	}
	if len(d.seen) < d.max {
		return
	}
	cut := now.Add(d.window / 2)
	for k, exp := range d.seen {
		if exp.Before(cut) {
			delete(d.seen, k)
		}
	}
	if len(d.seen) >= d.max {
		clear(d.seen)
	}
}
