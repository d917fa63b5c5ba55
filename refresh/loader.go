// Package refresh turns "content changed" into a new snapshot: it takes
// webhooks in (intake.go), queues them, fetches the collections they affect
// (engine.go), and installs what the Delivery API answered through one path
// (apply.go) under one revision rule (revision.go), keeping the served
// snapshot whenever anything fails.
package refresh

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
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

// PartSaver keeps installed parts beyond the process (Redis). SavePart
// returns nil once the part is stored, an error wrapping ErrNotStored when
// it deliberately did not store it (another process leads), or another
// error when storing failed.
type PartSaver interface {
	SavePart(ctx context.Context, p *cache.Part) error
}

// Collections says what makes up each collection and how it renders.
type Collections struct {
	CVTypes   []string
	CVOrder   string // default sys.createdAt
	BlogType  string
	BlogOrder string
	SlugField string
	// PageSize is the number of post summaries on a /blog page; FullList
	// serves every post in full at /blog instead (cache.BlogOptions).
	PageSize int
	FullList bool
	// LinkDepth and SummaryFields shape linked entries
	// (contentful.RenderOptions).
	LinkDepth     int
	SummaryFields []string
}

func (c Collections) render() contentful.RenderOptions {
	fields := c.SummaryFields
	if !slices.Contains(fields, c.SlugField) {
		fields = append(slices.Clip(fields), c.SlugField) // a summary must say where its post is
	}
	return contentful.RenderOptions{Depth: c.LinkDepth, SummaryType: c.BlogType, SummaryFields: fields}
}

func (c Collections) blog() cache.BlogOptions {
	return cache.BlogOptions{SlugField: c.SlugField, PageSize: c.PageSize, FullList: c.FullList, Render: c.render()}
}

// Loader fetches collections and installs them (apply.go).
type Loader struct {
	fetch Fetcher
	store Store
	cols  Collections
	log   *slog.Logger
	rule  Rule
	clock Clock
	saver PartSaver
	// installing serialises installs of one collection, store and save
	// together, so parts reach Redis in the order they were served.
	installing map[cache.Collection]*sync.Mutex
	// fetching serialises the fetch-and-install of one collection between
	// the first load (Initial) and the engine's worker: two whole fetches
	// and builds of a large blog side by side (a catch-up while the first
	// load still runs) held two collections at once.
	fetching map[cache.Collection]*sync.Mutex
	// turns hold what the collection's turn (exclusive) reports when
	// it ends: its start and outcome.
	turns   map[cache.Collection]*turn
	observe func(col cache.Collection, outcome string, took time.Duration)

	mu      sync.Mutex
	lastErr *Failure
}

// The outcomes of a refresh, as Observe reports them.
const (
	RefreshDone     = "done"     // installed, or found nothing newer to install
	RefreshFailed   = "failed"   // the fetch or the build failed; the served content stays
	RefreshCanceled = "canceled" // shutdown ended it
)

// turn is one collection's fetch-and-install turn, which one goroutine
// holds at a time.
type turn struct {
	start time.Time
	// outcome is set by apply and failed, which tests also call outside a
	// turn: atomic.
	outcome atomic.Value // string; "" until known, "skip" for no refresh
}

// Observe has every collection refresh reported once its turn ends (the
// first load's, the engine's webhook work, the safety and forced
// refreshes): the collection, its outcome (RefreshDone, RefreshFailed,
// RefreshCanceled) and the wall time of its fetch, build and install,
// waiting for the turn excluded. Set it before the loader runs.
func (l *Loader) Observe(f func(col cache.Collection, outcome string, took time.Duration)) {
	l.observe = f
}

// outcome records the outcome of the collection's current turn.
func (l *Loader) outcome(col cache.Collection, o string) {
	if t := l.turns[col]; t != nil {
		t.outcome.Store(o)
	}
}

// SetSaver has every installed part also saved (to Redis); an event whose
// part could not be stored is not acknowledged (Record.Persisted), so it is
// redone. The part is served either way.
func (l *Loader) SetSaver(s PartSaver) { l.saver = s }

// Failure is the last refresh that failed, for /status.
type Failure struct {
	At         time.Time `json:"at"`
	Collection string    `json:"collection"`
	Message    string    `json:"message"`
}

// NewLoader returns a Loader. Its revision rule's bound and its clock are
// the engine's (NewEngine sets them); alone it uses 2 minutes and the wall
// clock.
func NewLoader(f Fetcher, s Store, cols Collections, log *slog.Logger) *Loader {
	if cols.CVOrder == "" {
		cols.CVOrder = "sys.createdAt"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Loader{fetch: f, store: s, cols: cols, log: log, rule: Rule{Bound: 2 * time.Minute}, clock: RealClock{},
		installing: map[cache.Collection]*sync.Mutex{cache.CV: {}, cache.Blog: {}},
		fetching:   map[cache.Collection]*sync.Mutex{cache.CV: {}, cache.Blog: {}},
		turns:      map[cache.Collection]*turn{cache.CV: {}, cache.Blog: {}}}
}

// exclusive takes the collection's fetch-and-install turn (fetching) and
// returns its release.
func (l *Loader) exclusive(col cache.Collection) (release func()) {
	m := l.fetching[col]
	if m == nil {
		return func() {}
	}
	m.Lock()
	t := l.turns[col]
	t.start = time.Now()
	t.outcome.Store("")
	return func() {
		o := t.outcome.Load().(string)
		if o == "" {
			o = RefreshCanceled // neither installed nor failed: ctx ended
		}
		if l.observe != nil && o != "skip" {
			l.observe(col, o, time.Since(t.start))
		}
		m.Unlock()
	}
}

// Refresh fetches one collection and installs it under the revision rule.
// On any error the served snapshot stays as it was and the error is
// returned.
func (l *Loader) Refresh(ctx context.Context, col cache.Collection) (Applied, error) {
	return l.refresh(ctx, col, Newer)
}

func (l *Loader) refresh(ctx context.Context, col cache.Collection, mode Mode) (Applied, error) {
	defer l.exclusive(col)()
	if mode == IfEmpty && l.store.Load().Part(col) != nil {
		// The engine installed it while this waited its turn.
		l.outcome(col, "skip")
		return Applied{Snapshot: l.store.Load()}, nil
	}
	fetched, err := l.fetchCollection(ctx, col)
	if err == nil {
		var a Applied
		if a, err = l.apply(ctx, col, fetched, mode, nil); err == nil {
			return a, nil
		}
	}
	if ctx.Err() == nil {
		l.failed(col, err)
	}
	return Applied{Snapshot: l.store.Load()}, fmt.Errorf("refresh %s: %w", col, err)
}

// fetchCollection fetches a whole collection, its Delivery API requests
// labelled with it (contentful.WithLabel).
func (l *Loader) fetchCollection(ctx context.Context, col cache.Collection) (*contentful.Collection, error) {
	return l.fetch.Fetch(contentful.WithLabel(ctx, string(col)), l.query(col))
}

// query is a collection's Delivery API query.
func (l *Loader) query(col cache.Collection) contentful.Query {
	if col == cache.CV {
		return contentful.Query{ContentTypes: l.cols.CVTypes, Order: l.cols.CVOrder}
	}
	// Posts link posts: includes would bring most of the blog again with
	// every page, so the blog's links are filled by id.
	return contentful.Query{ContentTypes: []string{l.cols.BlogType}, Order: l.cols.BlogOrder, Shallow: true}
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
// backoff until all are in or ctx ends (then it returns ctx's error at once,
// mid-fetch or mid-build). folio is ready only after it.
func (l *Loader) Initial(ctx context.Context, clock Clock) error {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		var errs []error
		for _, col := range []cache.Collection{cache.CV, cache.Blog} {
			if l.store.Load().Part(col) != nil {
				continue
			}
			if _, err := l.refresh(ctx, col, IfEmpty); err != nil {
				errs = append(errs, err)
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
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
	l.outcome(col, RefreshFailed)
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
