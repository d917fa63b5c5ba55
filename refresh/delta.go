package refresh

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"strings"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
)

// DeltaFetcher is what an incremental refresh needs of the Delivery API;
// contentful.Client has it. A Fetcher without it always fetches whole
// collections.
type DeltaFetcher interface {
	Index(ctx context.Context, q contentful.Query, stats *contentful.Collection) ([]contentful.IndexEntry, error)
	Entries(ctx context.Context, ids []string, into *contentful.Collection) error
	LinksTo(ctx context.Context, ref contentful.Ref, into *contentful.Collection) error
	Fill(ctx context.Context, into *contentful.Collection, have func(contentful.Ref) bool, rounds int) error
}

// maxDelta bounds the entities one incremental refresh fetches on their
// own; past it, the whole collection costs less.
const maxDelta = 50

// fetchDelta returns the blog as the Delivery API has it now, fetching only
// what changed since served: the index of the collection (ids, revisions
// and order: a request per 1,000 posts), the posts whose revision or
// incarnation differs from served and the new ones (by id), and for every
// changed entity that is not a post, what links to it (links_to_entry,
// links_to_asset), which brings the entity itself along while it is
// published. Everything else is served's raw JSON, unchanged. ok is false
// when the change needs a whole fetch (nothing served, a content type
// changed, too many entities, a fetcher without the delta queries).
func (l *Loader) fetchDelta(ctx context.Context, served *cache.Part, changed []contentful.Ref) (c *contentful.Collection, ok bool, err error) {
	df, can := l.fetch.(DeltaFetcher)
	if !can || served == nil || len(changed) > maxDelta || len(served.Entities) == 0 || !served.BuiltWith(l.cols.blog()) {
		// A part built under other options (a restart with another link
		// depth) holds what those reached, not what these will.
		return nil, false, nil
	}
	for _, ref := range changed {
		if !strings.HasPrefix(string(ref), "Entry:") && !strings.HasPrefix(string(ref), "Asset:") {
			return nil, false, nil
		}
	}
	c = &contentful.Collection{Entities: maps.Clone(served.Entities), Partial: true}
	index, err := df.Index(ctx, l.query(cache.Blog), c)
	if err != nil {
		return nil, true, err
	}
	listed := make(map[string]bool, len(index))
	var need []string
	for _, e := range index {
		listed[e.ID] = true
		c.Items = append(c.Items, e.ID)
		if was, ok := served.Entities[contentful.EntryRef(e.ID)]; !ok || was.Revision != e.Revision || was.CreatedAt != e.CreatedAt {
			need = append(need, e.ID)
		}
	}
	// A post the index no longer lists is gone: links to it render as null.
	for _, it := range served.Items {
		if !listed[it.ID] {
			delete(c.Entities, contentful.EntryRef(it.ID))
		}
	}
	fresh := &contentful.Collection{Entities: map[contentful.Ref]contentful.Entity{}}
	for _, ref := range changed {
		if _, id, _ := strings.Cut(string(ref), ":"); strings.HasPrefix(string(ref), "Entry:") && listed[id] {
			continue // a post: the index and its revision say what to fetch
		}
		before := len(fresh.Entities)
		if err := df.LinksTo(ctx, ref, fresh); err != nil {
			return nil, true, err
		}
		if _, back := fresh.Entities[ref]; !back && len(fresh.Entities) > before {
			// Something links it, and it did not come back: it is not
			// published (or not yet, or no more).
			delete(c.Entities, ref)
		}
	}
	if len(need) > 0 {
		if err := df.Entries(ctx, need, fresh); err != nil {
			return nil, true, err
		}
		got := make(map[string]bool, len(fresh.Items))
		for _, id := range fresh.Items {
			got[id] = true
		}
		for _, id := range need {
			if !got[id] { // unpublished between the index and now
				delete(c.Entities, contentful.EntryRef(id))
			}
		}
	}
	// What the fresh entities link deeper than their direct links, and
	// nothing serves yet: to the link depth, and a summary and its assets
	// past it.
	have := func(ref contentful.Ref) bool { _, ok := c.Entities[ref]; return ok }
	if err := df.Fill(ctx, fresh, have, cmp.Or(l.cols.LinkDepth, contentful.DefaultLinkDepth)+2); err != nil {
		return nil, true, err
	}
	// The index and the entries may come from different CDN edges. A post
	// whose revision differs between them says the index's order may not
	// be the content's: then only a whole fetch (one answer per page) is
	// consistent.
	byID := make(map[string]contentful.IndexEntry, len(index))
	for _, e := range index {
		byID[e.ID] = e
	}
	for ref, e := range fresh.Entities {
		if _, id, _ := strings.Cut(string(ref), ":"); strings.HasPrefix(string(ref), "Entry:") && listed[id] {
			if ix := byID[id]; ix.Revision != e.Revision || ix.CreatedAt != e.CreatedAt {
				return nil, true, errInconsistent
			}
		}
	}
	maps.Copy(c.Entities, fresh.Entities)
	// Items the Delivery API listed but whose entry is nowhere (unpublished
	// since) leave the list.
	kept := c.Items[:0]
	for _, id := range c.Items {
		if _, ok := c.Entities[contentful.EntryRef(id)]; ok {
			kept = append(kept, id)
		}
	}
	c.Items = kept
	c.Requests += fresh.Requests
	c.Bytes += fresh.Bytes
	c.Took += fresh.Took
	return c, true, nil
}

// fetchFor fetches what a batch of changes needs: the changed entities
// alone where fetchDelta can (the blog, with something served), else the
// whole collection. A delta query the Delivery API refuses (an API without
// links_to_entry, say) falls back to the whole collection.
func (l *Loader) fetchFor(ctx context.Context, col cache.Collection, changed []contentful.Ref, whole bool) (*contentful.Collection, error) {
	if !whole && col == cache.Blog {
		c, ok, err := l.fetchDelta(contentful.WithLabel(ctx, string(col)), l.store.Load().Part(col), changed)
		var apiErr *contentful.APIError
		switch {
		case ok && err == nil:
			return c, nil
		case ok && errors.Is(err, errInconsistent):
			l.log.Info("the index and the entries came from different CDN states; fetching the whole collection", "collection", string(col))
		case ok && errors.As(err, &apiErr) && !apiErr.Retryable():
			l.log.Warn("incremental refresh refused; fetching the whole collection", "collection", string(col), "error", err)
		case ok:
			return nil, err
		}
	}
	return l.fetchCollection(ctx, col)
}

// errInconsistent says an incremental fetch read two CDN states.
var errInconsistent = errors.New("refresh: the index and the entries disagree")

// ErrIncomplete says an install of an incremental fetch left links
// unresolved that the served part resolved or did not have: they may reach
// entities no one fetched (linked deeper now than before), so the whole
// collection is fetched instead.
var ErrIncomplete = errors.New("refresh: an incremental fetch left links unresolved; fetching the whole collection")
