package refresh

import (
	"context"
	"errors"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
)

// Mode says how a fetched collection may replace the served one.
type Mode int

const (
	// Newer applies the revision rule (revision.go): webhooks, the safety
	// refresh, a new leader's catch-up.
	Newer Mode = iota
	// IfEmpty installs only where nothing is served yet: the first load
	// never replaces what a webhook's refresh (or Redis) installed meanwhile.
	IfEmpty
	// Force installs what the Delivery API returned and starts the ledger
	// afresh: an operator's forced refresh.
	Force
)

// ErrNotStored, returned (wrapped) by a PartSaver, says the part was
// deliberately not stored (this replica does not lead): the event that
// produced it is not acknowledged, and nothing is logged.
var ErrNotStored = errors.New("refresh: part not stored")

// Applied is what one install did.
type Applied struct {
	// Snapshot is what is served after it.
	Snapshot *cache.Snapshot
	// Installed is false when the mode left the served part in place.
	Installed bool
	// Stale lists the entities the Delivery API returned older than served
	// (a lagging CDN edge): their served versions were kept, and the
	// collection must be fetched again, at the latest at Settled, when the
	// lag bound of every one of them has passed.
	Stale   []contentful.Ref
	Settled time.Time
	// Stored reports whether the part was also saved (always true without a
	// PartSaver); the part is served either way.
	Stored bool
}

// apply installs a fetched collection: the one install path of the first
// load, the engine's webhook work, the safety refresh and the forced
// refresh. Under the store's writer lock it applies the revision rule
// against the served part, renders the fetch again where a served version
// is kept, builds the representations, records the ledger and swaps the
// part in; then it saves the part. It fails only when ctx ends or the
// content cannot be encoded, and then nothing changes.
//
// removals are what removal webhooks said (entity → the revision it had
// when removed, and when the webhook came): a lagging answer that still
// holds such an entity at that revision or lower is stale, within the
// bound, even where this collection never served that revision.
func (l *Loader) apply(ctx context.Context, col cache.Collection, fetched *contentful.Collection, mode Mode, removals map[contentful.Ref]Removal) (Applied, error) {
	lock := l.installing[col]
	lock.Lock()
	defer lock.Unlock()
	now := l.clock.Now()
	a := Applied{Stored: true}
	var why []string
	snap, err := l.store.Update(func(cur *cache.Snapshot) (*cache.Part, error) {
		served := l.rule.informed(cur.Part(col), removals)
		if mode == IfEmpty && served != nil {
			return nil, nil
		}
		c := fetched
		if mode != Force {
			j := l.rule.judge(served, fetched, now, true)
			if len(j.stale) > 0 {
				c = j.apply(fetched)
				a.Stale, a.Settled, why = j.stale, j.settled, j.why
			}
		}
		p, err := l.build(ctx, col, c, served)
		if err != nil {
			return nil, err
		}
		if c.Partial && unresolvedAnew(served, p) {
			return nil, ErrIncomplete
		}
		p.Marks = l.rule.marks(served, p, now, mode == Force)
		p.Forced = mode == Force
		a.Installed = true
		return p, nil
	})
	a.Snapshot = snap
	if err == nil {
		l.outcome(col, RefreshDone)
	}
	if err != nil || !a.Installed {
		return a, err
	}
	p := snap.Part(col)
	if len(a.Stale) > 0 {
		l.log.Warn("the Delivery API served older versions of some entities; keeping the served ones and fetching again",
			"collection", string(col), "stale", why)
	}
	if l.saver != nil {
		if err := l.saver.SavePart(ctx, p); err != nil {
			a.Stored = false
			if !errors.Is(err, ErrNotStored) {
				l.log.Warn("snapshot not persisted; serving it from memory", "collection", string(col), "error", err)
			}
		}
	}
	l.log.Info("collection loaded", "collection", string(col), "entries", p.Entries,
		"bytes", p.Bytes(), "requests", p.Requests, "took", p.Took.Round(time.Millisecond).String(),
		"etag", p.Root.ETag(), "mode", mode.String())
	return a, nil
}

func (l *Loader) build(ctx context.Context, col cache.Collection, c *contentful.Collection, served *cache.Part) (*cache.Part, error) {
	if col == cache.CV {
		return cache.BuildCV(ctx, l.cols.CVTypes, c, served, l.cols.render())
	}
	p, skipped, err := cache.BuildBlog(ctx, c, served, l.cols.blog())
	for _, s := range skipped {
		l.log.Warn("blog post not addressable", "post", s)
	}
	return p, err
}

func (m Mode) String() string {
	switch m {
	case IfEmpty:
		return "first-load"
	case Force:
		return "force"
	}
	return "newer"
}

// Adopt installs a part another process built: a Redis follower installs
// the leader's. It is installed as it is, unless it holds an entity older
// than this replica served within the lag bound (this replica processed
// events itself while Redis was away, or the leader is new and read a
// lagging edge): that entity keeps its served version, under the same
// rule as a fetch, and the rest is the leader's. A forced part is always
// installed as it is. It fails only when ctx ends or the content cannot be
// encoded, and then nothing changes.
func (l *Loader) Adopt(ctx context.Context, p *cache.Part) error {
	lock := l.installing[p.Collection]
	lock.Lock()
	defer lock.Unlock()
	now := l.clock.Now()
	_, err := l.store.Update(func(cur *cache.Snapshot) (*cache.Part, error) {
		served := cur.Part(p.Collection)
		if served == nil || p.Forced {
			return p, nil
		}
		src := p.Source()
		j := l.rule.judge(served, src, now, false)
		if len(j.stale) == 0 {
			return p, nil
		}
		l.log.Warn("the leader's part holds older versions than this replica served; keeping them", "collection", string(p.Collection), "stale", j.stale)
		built, err := l.build(ctx, p.Collection, j.apply(src), served)
		if err != nil {
			return nil, err
		}
		built.Marks = l.rule.marks(served, built, now, false)
		return built, nil
	})
	return err
}

// unresolvedAnew reports a link of p that renders as null to an entity
// served never held and did not already leave unresolved: nothing fetched
// it, which is not the same as its not being published. (An entity served
// held and the incremental fetch took out was removed on purpose.)
func unresolvedAnew(served, p *cache.Part) bool {
	for ref, rev := range p.Refs {
		if rev != 0 {
			continue
		}
		if _, held := served.Entities[ref]; held {
			continue
		}
		if was, ok := served.Refs[ref]; !ok || was != 0 {
			return true
		}
	}
	return false
}
