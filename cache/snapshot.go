package cache

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
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

// Part is one collection's built content. It is immutable once built.
type Part struct {
	Collection Collection
	Root       *Resource            // /cv or /blog
	Posts      map[string]*Resource // /blog/{slug}; nil for the CV
	Entries    int
	// Refs holds every entity the part contains, directly or through a link,
	// with its revision: what a webhook about that entity affects.
	Refs map[contentful.Ref]int
	// Removed remembers the collection's own entries that a later version
	// no longer holds (unpublished, archived, deleted), with the revision
	// they had and when they went, so that a lagging CDN answer cannot bring
	// one back at that revision. Kept for RemovedTTL.
	Removed   map[contentful.Ref]Removal
	FetchedAt time.Time
	Took      time.Duration // the Delivery API fetch
	Requests  int           // Delivery API calls the fetch made
	top       map[contentful.Ref]bool
}

func topOf(c *contentful.Collection) map[contentful.Ref]bool {
	m := make(map[contentful.Ref]bool, len(c.Entries))
	for _, e := range c.Entries {
		m[contentful.EntryRef(e.ID)] = true
	}
	return m
}

// Removal is one entry gone from a collection.
type Removal struct {
	Revision int
	At       time.Time
}

// RemovedTTL bounds how long a removal is remembered: far longer than any
// CDN lag, short enough that the map stays small.
const RemovedTTL = time.Hour

// removals carries prev's removals forward and adds prev's entries that c
// no longer holds.
func removals(prev *Part, c *contentful.Collection, now time.Time) map[contentful.Ref]Removal {
	if prev == nil {
		return nil
	}
	present := topOf(c)
	out := map[contentful.Ref]Removal{}
	for ref, r := range prev.Removed {
		if !present[ref] && now.Sub(r.At) < RemovedTTL {
			out[ref] = r
		}
	}
	for ref := range prev.top {
		if !present[ref] {
			out[ref] = Removal{Revision: prev.Refs[ref], At: now}
		}
	}
	return out
}

// Bytes is the identity size of everything the part serves.
func (p *Part) Bytes() int {
	n := p.Root.Size()
	for _, r := range p.Posts {
		n += r.Size()
	}
	return n
}

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
// never wait; writers replace it whole, one at a time.
type Store struct {
	cur atomic.Pointer[Snapshot]
	mu  sync.Mutex // serialises writers so no update is lost
}

// Load returns the current snapshot, nil before the first part is stored.
func (s *Store) Load() *Snapshot { return s.cur.Load() }

// Put swaps in a new snapshot holding p and the other collection's current
// part, and returns it, with no revision check: for tests and tools. The
// refresh side uses Update, and replicas PutUnlessOlder.
func (s *Store) Put(p *Part) *Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.cur.Load().with(p)
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
	next := cur.with(p)
	s.cur.Store(next)
	return next, nil
}

// BuildCV serialises the CV: one object keyed by content type id, each an
// array of that type's entries in the fetched order. Every configured type is
// present, empty or not, so a frontend can rely on the keys.
func BuildCV(types []string, c *contentful.Collection, prev *Part) (*Part, error) {
	byType := make(map[string][]*contentful.Entry, len(types))
	for _, t := range types {
		byType[t] = []*contentful.Entry{}
	}
	var modified time.Time
	for _, e := range c.Entries {
		if _, ok := byType[e.ContentType]; ok {
			byType[e.ContentType] = append(byType[e.ContentType], e)
			modified = latest(modified, e.Modified())
		}
	}
	// The keys keep FOLIO_CV_TYPES' order (a map would sort them), so the
	// document reads as its owner arranged the CV.
	body := []byte{'{'}
	for i, t := range types {
		if i > 0 {
			body = append(body, ',')
		}
		key, _ := json.Marshal(t)
		list, err := json.Marshal(byType[t])
		if err != nil {
			return nil, fmt.Errorf("cache: encoding the CV's %s entries: %w", t, err)
		}
		body = append(append(append(body, key...), ':'), list...)
	}
	body = append(body, '}')
	return newPart(CV, rootResource(body, modified, prev), c, prev), nil
}

// newPart holds a built collection with what the refresh side needs to
// know about it.
func newPart(col Collection, root *Resource, c *contentful.Collection, prev *Part) *Part {
	now := time.Now()
	return &Part{
		Collection: col,
		Root:       root,
		Entries:    len(c.Entries),
		Refs:       c.Refs,
		Removed:    removals(prev, c, now),
		top:        topOf(c),
		FetchedAt:  now,
		Took:       c.Took,
		Requests:   c.Requests,
	}
}

// blogList is the JSON of GET /blog.
type blogList struct {
	Total int                 `json:"total"`
	Items []*contentful.Entry `json:"items"`
}

// BuildBlog serialises the post list and every post addressed by its slug
// field. Posts whose bytes did not change keep prev's resource, so a refresh
// of a large blog compresses only what changed. A post with no slug is listed
// but not addressable; of two posts with one slug, the first in order wins
// and the second is reported in skipped.
func BuildBlog(slugField string, c *contentful.Collection, prev *Part) (p *Part, skipped []string, err error) {
	var modified time.Time
	posts := make(map[string]*Resource, len(c.Entries))
	for _, e := range c.Entries {
		modified = latest(modified, e.Modified())
		slug, _ := e.Fields[slugField].(string)
		if slug == "" {
			skipped = append(skipped, e.ID+": no "+slugField)
			continue
		}
		if _, dup := posts[slug]; dup {
			skipped = append(skipped, e.ID+": duplicate "+slugField+" "+slug)
			continue
		}
		body, err := json.Marshal(e)
		if err != nil {
			return nil, nil, fmt.Errorf("cache: encoding post %s: %w", e.ID, err)
		}
		posts[slug] = reuse(prev, slug, body, e.Modified())
	}
	body, err := json.Marshal(blogList{Total: len(c.Entries), Items: c.Entries})
	if err != nil {
		return nil, nil, fmt.Errorf("cache: encoding the blog: %w", err)
	}
	p = newPart(Blog, rootResource(body, modified, prev), c, prev)
	p.Posts = posts
	return p, skipped, nil
}

// rootResource builds /cv or /blog. Its Last-Modified is the latest
// updatedAt inside, but never earlier than the previous version's when the
// bytes changed: removing the newest entry must not move Last-Modified back,
// or an If-Modified-Since client would keep the removed entry.
func rootResource(body []byte, modified time.Time, prev *Part) *Resource {
	modified = orNow(modified)
	if prev != nil {
		if string(prev.Root.Body()) == string(body) {
			return prev.Root
		}
		if !modified.Truncate(time.Second).After(prev.Root.ModTime()) {
			// HTTP dates have whole seconds: step at least one.
			modified = latest(time.Now(), prev.Root.ModTime().Add(time.Second))
		}
	}
	return NewResource(body, modified)
}

// reuse returns prev's resource for slug when its bytes are body, else a new one.
func reuse(prev *Part, slug string, body []byte, modified time.Time) *Resource {
	if prev != nil {
		if r, ok := prev.Posts[slug]; ok && string(r.Body()) == string(body) {
			return r
		}
	}
	return NewResource(body, orNow(modified))
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// orNow stands in for content with no updatedAt at all (never seen from
// Contentful, but a zero Last-Modified would be a lie).
func orNow(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}
