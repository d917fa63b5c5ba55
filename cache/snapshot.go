package cache

import (
	"sync"
	"sync/atomic"
)

// Snapshot is what folio serves at one moment: one Part per collection.
// Readers hold a *Snapshot for the length of a request; it never changes.
type Snapshot struct {
	CV   *Part
	Blog *Part
}

// Ready reports whether both collections have been loaded, so every content
// route has something true to answer.
func (s *Snapshot) Ready() bool { return s != nil && s.CV != nil && s.Blog != nil }

// Part returns the named collection's part, or nil.
func (s *Snapshot) Part(c Collection) *Part {
	if s == nil {
		return nil
	}
	switch c {
	case CV:
		return s.CV
	case Blog:
		return s.Blog
	}
	return nil
}

// with returns a copy of s with one part replaced.
func (s *Snapshot) with(p *Part) *Snapshot {
	next := &Snapshot{}
	if s != nil {
		*next = *s
	}
	switch p.Collection {
	case CV:
		next.CV = p
	case Blog:
		next.Blog = p
	}
	return next
}

// Store holds the current snapshot. Readers load it with one atomic read and
// never wait; writers replace it whole, one at a time. Every part swapped in
// has its validators moved forward from the part it replaces
// (validators.go), whoever built it.
type Store struct {
	cur atomic.Pointer[Snapshot]
	mu  sync.Mutex // serialises writers so no update is lost
}

// Load returns the current snapshot, nil before the first part is stored.
func (s *Store) Load() *Snapshot { return s.cur.Load() }

// Put swaps in a new snapshot holding p and the other collection's current
// part, and returns it: for a part whose content another process decided
// (a Redis follower installs what the leader stored), and for tests.
func (s *Store) Put(p *Part) *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Load()
	next := cur.with(forward(cur.Part(p.Collection), p))
	s.cur.Store(next)
	return next
}

// Update swaps in fn's part, computed from the current snapshot under the
// writers' lock; fn returning nil or an error leaves the snapshot as it is.
func (s *Store) Update(fn func(cur *Snapshot) (*Part, error)) (*Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Load()
	p, err := fn(cur)
	if err != nil || p == nil {
		return cur, err
	}
	next := cur.with(forward(cur.Part(p.Collection), p))
	s.cur.Store(next)
	return next, nil
}
