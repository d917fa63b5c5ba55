package cache

import (
	"time"

	"github.com/folio-cms/folio/contentful"
)

// Collection names one of the two things folio serves.
type Collection string

// The collections.
const (
	CV   Collection = "cv"
	Blog Collection = "blog"
)

// Part is one collection's built content. It is immutable once swapped into
// a Store.
type Part struct {
	Collection Collection
	Root       *Resource // /cv, or /blog (its first page)
	// Pages are the /blog pages, /blog?page=N at Pages[N-1]; Pages[0] is
	// Root. Nil for the CV.
	Pages []*Resource
	Posts map[string]*Resource // /blog/{slug}; nil for the CV
	// Items are the part's top-level entries in order; for the blog, with
	// what a later build reuses.
	Items   []Item
	Entries int
	// Refs holds every entity the part contains, directly or through a link,
	// with its revision (0 for a link that did not resolve): what a webhook
	// about that entity affects.
	Refs map[contentful.Ref]int
	// Entities are the entities the part was rendered from, as the Delivery
	// API sent them, so a later build can keep one of them (the revision
	// rule, refresh/revision.go).
	Entities map[contentful.Ref]contentful.Entity
	// Marks is the part's revision ledger, written by the refresh side: for
	// every entity it serves, the revision and incarnation and since when;
	// for an entity it served and no longer does, a Gone mark, for as long
	// as a lagging CDN could bring the entity back.
	Marks map[contentful.Ref]Mark
	// Forced marks a part built by an operator's forced refresh: every
	// replica installs it as it is.
	Forced bool
	// Floor is the latest Last-Modified the collection has given out, kept
	// across versions (and in Redis) so a returning route's date moves on.
	Floor     time.Time
	FetchedAt time.Time
	Took      time.Duration // the Delivery API fetch
	Requests  int           // Delivery API calls the fetch made
	// key names the options the part was built under (BlogOptions.key).
	key string
}

// Mark is what the revision rule knows of one entity of a part.
type Mark struct {
	Revision  int    // sys.revision served (or, when Gone, the last one served)
	CreatedAt string // sys.createdAt: the incarnation
	// Since is when this revision (or the removal) was first served.
	Since time.Time
	// Gone marks an entity a removal webhook said went, at Revision; its
	// sys.deletedAt, when known, tells a later re-creation from it.
	Gone      bool
	DeletedAt string
}

// Bytes is the identity size of everything the part serves.
func (p *Part) Bytes() int {
	n := p.Root.Size()
	for _, r := range p.Pages[min(1, len(p.Pages)):] {
		n += r.Size()
	}
	for _, r := range p.Posts {
		n += r.Size()
	}
	return n
}

// Source returns what the part was built from: its top-level entries in
// order and its raw entities, as a fetch returns them.
func (p *Part) Source() *contentful.Collection {
	c := &contentful.Collection{Items: make([]string, len(p.Items)), Entities: p.Entities, Requests: p.Requests, Took: p.Took}
	for i, it := range p.Items {
		c.Items[i] = it.ID
	}
	return c
}

// BuiltWith reports whether the part was built under o: a part built under
// other options (another link depth, say) holds the entities those reached.
func (p *Part) BuiltWith(o BlogOptions) bool { return p.key == o.key() }
