// Package refresh turns "content changed" into a new snapshot: it fetches a
// collection from Contentful, builds it, and swaps it into the store, keeping
// the served snapshot whenever anything fails.
package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
)

// Fetcher reads one collection from the Delivery API.
type Fetcher interface {
	Fetch(ctx context.Context, q contentful.Query) (*contentful.Collection, error)
}

// Store holds the served snapshot.
type Store interface {
	Load() *cache.Snapshot
	Update(fn func(cur *cache.Snapshot) (*cache.Part, error)) (*cache.Snapshot, error)
}

// Collections says what makes up each collection.
type Collections struct {
	CVTypes   []string
	CVOrder   string // default sys.createdAt
	BlogType  string
	BlogOrder string
	SlugField string
}

// Loader fetches and builds collections into the store.
type Loader struct {
	fetch Fetcher
	store Store
	cols  Collections
	log   *slog.Logger

	mu      sync.Mutex
	lastErr *Failure
	persist func(*cache.Part) error
}

// SetPersist has every installed part also written out (to Redis) before the
// install counts as done; an event whose part could not be stored is not
// acknowledged (Record.Persisted), so it is redone. The part is served
// either way.
func (l *Loader) SetPersist(fn func(*cache.Part) error) { l.persist = fn }

// Failure is the last refresh that failed, for /status.
type Failure struct {
	At         time.Time `json:"at"`
	Collection string    `json:"collection"`
	Message    string    `json:"message"`
}

// NewLoader returns a Loader.
func NewLoader(f Fetcher, s Store, cols Collections, log *slog.Logger) *Loader {
	if cols.CVOrder == "" {
		cols.CVOrder = "sys.createdAt"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Loader{fetch: f, store: s, cols: cols, log: log}
}

// Refresh fetches one collection and swaps it in. On any error the served
// snapshot stays as it was and the error is returned.
func (l *Loader) Refresh(ctx context.Context, col cache.Collection) (*cache.Snapshot, error) {
	return l.refresh(ctx, col, installNewer)
}

func (l *Loader) refresh(ctx context.Context, col cache.Collection, mode installMode) (*cache.Snapshot, error) {
	fetched, err := l.fetchCollection(ctx, col)
	if err != nil {
		l.failed(col, err)
		return l.store.Load(), fmt.Errorf("refresh %s: %w", col, err)
	}
	snap, _, err := l.install(col, fetched, mode)
	if err != nil {
		l.failed(col, err)
		return snap, fmt.Errorf("refresh %s: %w", col, err)
	}
	return snap, nil
}

func (l *Loader) fetchCollection(ctx context.Context, col cache.Collection) (*contentful.Collection, error) {
	q := contentful.Query{ContentTypes: []string{l.cols.BlogType}, Order: l.cols.BlogOrder}
	if col == cache.CV {
		q = contentful.Query{ContentTypes: l.cols.CVTypes, Order: l.cols.CVOrder}
	}
	return l.fetch.Fetch(ctx, q)
}

// ErrOlder means a fetch returned an entity at a lower revision than the one
// served: a lagging CDN edge. The served snapshot stays; revisions only move
// forward.
var ErrOlder = errors.New("refresh: the Delivery API returned older content than folio serves")

// installMode says when a fetched collection may replace the served one.
type installMode int

const (
	// installNewer: unless it holds an entity at a lower revision than
	// served (a lagging CDN edge): revisions only move forward.
	installNewer installMode = iota
	// installIfEmpty: only where nothing is served yet (the first load must
	// never replace what a webhook's refresh installed meanwhile).
	installIfEmpty
	// installForce: whatever the Delivery API returned. An operator's forced
	// refresh, the way out when an entity's revision legitimately went down
	// (deleted, then re-created with the same id).
	installForce
)

// ErrNotStored, returned (wrapped) by the persist function, says the part
// was deliberately not stored (this replica does not lead): the event that
// produced it is not acknowledged, and nothing is logged.
var ErrNotStored = errors.New("refresh: part not stored")

// install builds fetched and swaps it in as mode allows, checked under the
// store's writer lock so two installs cannot cross. stored reports whether
// the part was also persisted (always true without persistence); the part
// is served either way.
func (l *Loader) install(col cache.Collection, fetched *contentful.Collection, mode installMode) (snap *cache.Snapshot, stored bool, err error) {
	installed := false
	snap, err = l.store.Update(func(cur *cache.Snapshot) (*cache.Part, error) {
		if mode == installIfEmpty && cur.Part(col) != nil {
			return nil, nil
		}
		if ref, was, now, older := cache.Backwards(cur.Part(col), fetched.Refs); older && mode != installForce {
			return nil, fmt.Errorf("%w: %s at revision %d, served %d", ErrOlder, ref, now, was)
		}
		installed = true
		if col == cache.CV {
			return cache.BuildCV(l.cols.CVTypes, fetched, cur.Part(cache.CV))
		}
		p, skipped, err := cache.BuildBlog(l.cols.SlugField, fetched, cur.Part(cache.Blog))
		for _, s := range skipped {
			l.log.Warn("blog post not addressable", "post", s)
		}
		return p, err
	})
	if err != nil || !installed {
		return snap, true, err
	}
	p := snap.Part(col)
	stored = true
	if l.persist != nil {
		if err := l.persist(p); err != nil {
			stored = false
			if !errors.Is(err, ErrNotStored) {
				l.log.Warn("snapshot not persisted; serving it from memory", "collection", string(col), "error", err)
			}
		}
	}
	l.log.Info("collection loaded", "collection", string(col), "entries", p.Entries,
		"bytes", p.Bytes(), "requests", p.Requests, "took", p.Took.Round(time.Millisecond).String(),
		"etag", p.Root.ETag())
	return snap, stored, nil
}

// RefreshAll refreshes every collection; it returns the first error after
// trying them all, so one failing collection does not hold the other back.
func (l *Loader) RefreshAll(ctx context.Context) error {
	var errs []error
	for _, col := range []cache.Collection{cache.CV, cache.Blog} {
		if _, err := l.Refresh(ctx, col); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Initial loads every collection that is not loaded yet, retrying with capped
// backoff until all are in or ctx ends. folio is ready only after it.
func (l *Loader) Initial(ctx context.Context, clock Clock) error {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		var errs []error
		for _, col := range []cache.Collection{cache.CV, cache.Blog} {
			if l.store.Load().Part(col) != nil {
				continue
			}
			if _, err := l.refresh(ctx, col, installIfEmpty); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) == 0 {
			return nil
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		l.log.Error("first load failed; retrying", "attempt", attempt, "wait", wait.Round(time.Millisecond).String(), "error", errors.Join(errs...))
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-clock.After(wait):
		}
		backoff = min(backoff*2, time.Minute)
	}
}

func (l *Loader) failed(col cache.Collection, err error) {
	l.log.Error("refresh failed; still serving the previous content", "collection", string(col), "error", err)
	l.mu.Lock()
	l.lastErr = &Failure{At: time.Now().UTC(), Collection: string(col), Message: err.Error()}
	l.mu.Unlock()
}

// LastFailure returns the most recent failed refresh, or nil.
func (l *Loader) LastFailure() *Failure {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lastErr
}
