package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/folio-cms/folio/contentful"
)

// DefaultPageSize is how many post summaries a /blog page holds when
// BlogOptions.PageSize is unset.
const DefaultPageSize = 20

// BlogOptions shape /blog and /blog/{slug}.
type BlogOptions struct {
	// SlugField is the field that addresses a post at /blog/{slug}.
	SlugField string
	// PageSize is how many post summaries a /blog page holds (default 20).
	PageSize int
	// FullList serves today's list instead: every post in full in one
	// document at /blog ({"total","items"}), no pages.
	FullList bool
	Render   contentful.RenderOptions
}

func (o BlogOptions) pageSize() int {
	if o.PageSize <= 0 {
		return DefaultPageSize
	}
	return o.PageSize
}

// key names everything besides the content that shapes the bytes: a part
// built under other options is rendered again whole.
func (o BlogOptions) key() string {
	return fmt.Sprintf("blog|%s|%d|%t|%d|%s|%s", o.SlugField, o.pageSize(), o.FullList, o.Render.Depth,
		o.Render.SummaryType, strings.Join(o.Render.SummaryFields, ","))
}

// Item is one post of a built blog part, with what a later build reuses
// when nothing it reached changed.
type Item struct {
	ID   string
	Slug string // "" when the post is not addressable
	// Summary is the post's summary JSON: its element of the /blog pages.
	Summary []byte
	// SummaryModified is the latest updatedAt inside the summary.
	SummaryModified time.Time
	// Refs are the entities its post and its summary reached.
	Refs map[contentful.Ref]int
	// Post is true when the item holds its slug: /blog/{Slug} serves it.
	Post bool
}

// BuildBlog builds /blog and every post from a fetched collection. Only the
// posts that are new, or that reach an entity whose raw JSON differs from
// prev's (the part it replaces, or nil), are rendered and encoded again; the
// rest keep prev's bytes and representations, so a change costs what
// changed. A post with no slug, or one SlugProblem refuses, is listed but
// not addressable; of two posts with one slug, the first in order wins;
// every such post is reported in skipped (and Part.Unaddressable). It checks ctx between posts, so a shutdown does not wait for a
// large build; it fails only with ctx's error, contentful.ErrMalformed, or
// an encoding error.
func BuildBlog(ctx context.Context, c *contentful.Collection, prev *Part, o BlogOptions) (p *Part, skipped []string, err error) {
	key := o.key()
	if prev != nil && prev.key != key {
		prev = nil // built under other options: nothing to reuse
	}
	r := contentful.NewRenderer(c.Entities, o.Render)
	changed := changes(prev, c)
	was := prev.index()
	items := make([]Item, 0, len(c.Items))
	// Fresh posts are encoded as they are rendered, a batch at a time, so
	// a first build holds the JSON of one batch, not of every post.
	enc := &encoder{ctx: ctx, out: map[string]*Resource{}}
	render := func(id string) (Item, error) {
		g := r.Begin()
		e, err := g.Full(id)
		if err != nil || e == nil {
			return Item{}, fmt.Errorf("cache: rendering post %s: %w", id, orMissing(err))
		}
		body, err := json.Marshal(e)
		if err != nil {
			return Item{}, fmt.Errorf("cache: encoding post %s: %w", id, err)
		}
		gs := r.Begin()
		s, err := gs.Summary(id)
		if err != nil {
			return Item{}, fmt.Errorf("cache: rendering post %s: %w", id, err)
		}
		sum, err := json.Marshal(s)
		if err != nil {
			return Item{}, fmt.Errorf("cache: encoding post %s: %w", id, err)
		}
		it := Item{ID: id, Summary: sum, SummaryModified: s.Modified(), Refs: g.Refs}
		for ref, rev := range gs.Refs {
			it.Refs[ref] = rev
		}
		it.Slug, _ = e.Fields[o.SlugField].(string)
		if SlugProblem(it.Slug) == "" {
			if err := enc.add(id, input(prev.post(it.Slug), body, e.Modified(), prev == nil)); err != nil {
				return Item{}, err
			}
		}
		return it, nil
	}
	for _, id := range c.Items {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		if n, ok := was[id]; ok && !touched(prev.Items[n].Refs, changed) {
			items = append(items, prev.Items[n])
			continue
		}
		it, err := render(id)
		if err != nil {
			return nil, nil, err
		}
		items = append(items, it)
	}
	// Slugs: the first post in order holds one; the others are listed only.
	posts := make(map[string]*Resource, len(items))
	encoded := map[string]string{} // slug → the entry id whose fresh bytes it serves
	held := make(map[string]bool, len(items))
	for i := range items {
		it := &items[i]
		switch {
		case SlugProblem(it.Slug) != "":
			skipped = append(skipped, it.ID+": "+SlugProblem(it.Slug))
			it.Post = false
			continue
		case held[it.Slug]:
			skipped = append(skipped, it.ID+": duplicate "+o.SlugField+" "+it.Slug)
			it.Post = false
			continue
		}
		held[it.Slug] = true
		_, ok := enc.out[it.ID]
		if !ok && !it.Post {
			// Reused, but it did not hold its slug before (the post that
			// did is gone): its bytes are needed now.
			again, err := render(it.ID)
			if err != nil {
				return nil, nil, err
			}
			*it = again
			ok = true
		}
		it.Post = true
		if !ok {
			posts[it.Slug] = prev.post(it.Slug)
			continue
		}
		encoded[it.Slug] = it.ID
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	pageInputs, err := buildPages(r, items, prev, o)
	if err != nil {
		return nil, nil, err
	}
	for _, in := range pageInputs {
		if err := enc.add("", in); err != nil {
			return nil, nil, err
		}
	}
	if err := enc.flush(); err != nil {
		return nil, nil, err
	}
	for slug, id := range encoded {
		posts[slug] = enc.out[id]
	}
	pages := enc.pages
	p = newPart(Blog, pages[0], c)
	p.Pages, p.Posts, p.Items, p.key = pages, posts, items, key
	p.Refs = map[contentful.Ref]int{}
	for _, it := range items {
		for ref, rev := range it.Refs {
			p.Refs[ref] = rev
		}
	}
	p.Entities = reachable(c.Entities, p.Refs)
	return p, skipped, nil
}

// encodeBatch is how many bytes of JSON a build encodes together: enough
// for every core (NewResources spreads a batch over them), few enough that
// a first build of thousands of posts never holds all their JSON.
const encodeBatch = 8 << 20

// encoder encodes a build's documents a batch at a time: posts by entry
// id into out (nil while the batch waits), list pages (id "") in order
// into pages.
type encoder struct {
	ctx   context.Context
	in    []ResourceInput
	ids   []string
	size  int
	out   map[string]*Resource
	pages []*Resource
}

func (e *encoder) add(id string, in ResourceInput) error {
	e.in, e.ids = append(e.in, in), append(e.ids, id)
	if id != "" {
		e.out[id] = nil
	}
	if e.size += len(in.Body); e.size >= encodeBatch {
		return e.flush()
	}
	return nil
}

func (e *encoder) flush() error {
	built, err := NewResources(e.ctx, e.in)
	if err != nil {
		return err
	}
	for i, id := range e.ids {
		if id == "" {
			e.pages = append(e.pages, built[i])
		} else {
			e.out[id] = built[i]
		}
	}
	e.in, e.ids, e.size = nil, nil, 0
	return nil
}

// buildPages lays out the /blog pages, to be encoded: the summaries in
// pages of PageSize, each {"total","page","pageSize","pages","items"}, or
// with FullList one document of every post in full, rendered as one
// response.
func buildPages(r *contentful.Renderer, items []Item, prev *Part, o BlogOptions) ([]ResourceInput, error) {
	var was []*Resource
	if prev != nil {
		was = prev.Pages
	}
	first := prev == nil
	if o.FullList {
		g := r.Begin()
		list := make([]*contentful.Entry, 0, len(items))
		var modified time.Time
		for _, it := range items {
			e, err := g.Full(it.ID)
			if err != nil || e == nil {
				return nil, fmt.Errorf("cache: rendering post %s: %w", it.ID, orMissing(err))
			}
			list = append(list, e)
			modified = latest(modified, e.Modified())
		}
		body, err := json.Marshal(struct {
			Total int                 `json:"total"`
			Items []*contentful.Entry `json:"items"`
		}{len(list), list})
		if err != nil {
			return nil, fmt.Errorf("cache: encoding the blog: %w", err)
		}
		return []ResourceInput{input(at(was, 0), body, modified, first)}, nil
	}
	size := o.pageSize()
	n := max(1, (len(items)+size-1)/size)
	pages := make([]ResourceInput, n)
	for i := range n {
		chunk := items[min(i*size, len(items)):min((i+1)*size, len(items))]
		var b bytes.Buffer
		fmt.Fprintf(&b, `{"total":%d,"page":%d,"pageSize":%d,"pages":%d,"items":[`, len(items), i+1, size, n)
		var modified time.Time
		for j, it := range chunk {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(it.Summary)
			modified = latest(modified, it.SummaryModified)
		}
		b.WriteString("]}")
		pages[i] = input(at(was, i), b.Bytes(), modified, first)
	}
	return pages, nil
}

// BuildCV serialises the CV: one object keyed by content type id, each an
// array of that type's entries in the fetched order, rendered as one
// response. Every configured type is present, empty or not, so a frontend
// can rely on the keys. prev, the part it will replace (or nil), lends its
// resource when the bytes are the same. It fails only with ctx's error,
// contentful.ErrMalformed or an encoding error.
func BuildCV(ctx context.Context, types []string, c *contentful.Collection, prev *Part, ro contentful.RenderOptions) (*Part, error) {
	byType := make(map[string][]*contentful.Entry, len(types))
	for _, t := range types {
		byType[t] = []*contentful.Entry{}
	}
	g := contentful.NewRenderer(c.Entities, ro).Begin()
	g.Listed(c.Items...) // each in full at its place; linked, a stub
	var modified time.Time
	for _, id := range c.Items {
		e, err := g.Full(id)
		if err != nil || e == nil {
			return nil, fmt.Errorf("cache: rendering CV entry %s: %w", id, orMissing(err))
		}
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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var was *Resource
	if prev != nil {
		was = prev.Root
	}
	p := newPart(CV, resource(was, body, modified, prev == nil), c)
	p.Refs = g.Refs
	p.Entities = reachable(c.Entities, p.Refs)
	p.Items = make([]Item, len(c.Items))
	for i, id := range c.Items {
		p.Items[i] = Item{ID: id}
	}
	return p, nil
}

// newPart holds a built collection with what the refresh side needs to
// know about it.
func newPart(col Collection, root *Resource, c *contentful.Collection) *Part {
	return &Part{
		Collection: col,
		Root:       root,
		Entries:    len(c.Items),
		Entities:   c.Entities,
		FetchedAt:  time.Now(),
		Took:       c.Took,
		Requests:   c.Requests,
	}
}

// changes returns the entities whose raw JSON differs between prev and c,
// or that only one of them has; nil when there is nothing to compare with.
func changes(prev *Part, c *contentful.Collection) map[contentful.Ref]bool {
	if prev == nil {
		return nil
	}
	out := map[contentful.Ref]bool{}
	for ref, e := range c.Entities {
		if was, ok := prev.Entities[ref]; !ok || was.Hash() != e.Hash() {
			out[ref] = true
		}
	}
	for ref := range prev.Entities {
		if _, ok := c.Entities[ref]; !ok {
			out[ref] = true
		}
	}
	return out
}

// reachable keeps the entities a part's renders reached, packed: what a
// later build may render again. The rest (includes nothing links any more,
// other collections' entries that came along) would only take memory.
func reachable(ents map[contentful.Ref]contentful.Entity, refs map[contentful.Ref]int) map[contentful.Ref]contentful.Entity {
	out := make(map[contentful.Ref]contentful.Entity, len(refs))
	for ref := range refs {
		if e, ok := ents[ref]; ok {
			out[ref] = e.Pack()
		}
	}
	return out
}

// touched reports whether a render that reached refs must be redone.
func touched(refs map[contentful.Ref]int, changed map[contentful.Ref]bool) bool {
	for ref := range refs {
		if changed[ref] {
			return true
		}
	}
	return false
}

// index maps the part's item ids to their positions.
func (p *Part) index() map[string]int {
	if p == nil {
		return nil
	}
	m := make(map[string]int, len(p.Items))
	for i, it := range p.Items {
		m[it.ID] = i
	}
	return m
}

func (p *Part) post(slug string) *Resource {
	if p == nil {
		return nil
	}
	return p.Posts[slug]
}

func at(rs []*Resource, i int) *Resource {
	if i < len(rs) {
		return rs[i]
	}
	return nil
}

func orMissing(err error) error {
	if err == nil {
		return fmt.Errorf("%w: the entry is not among the fetched entities", contentful.ErrMalformed)
	}
	return err
}

// input is one resource to encode: was (the resource at the same route
// before, or nil) is kept when its bytes are body (nothing is compressed
// again). Its Last-Modified is the latest updatedAt inside, never later
// than now; on a first build (no part before it in this process, first is
// true) the build's time, because nothing records what an earlier process
// gave out, and every date it gave out was no later than its own now.
// The Store moves it further forward where needed (validators.go).
func input(was *Resource, body []byte, modified time.Time, first bool) ResourceInput {
	now := time.Now()
	if first || modified.IsZero() || modified.After(now) {
		// A first build has no record of the dates an earlier process gave
		// out, all of them no later than their own now; a date from
		// Contentful ahead of this clock would be a date in the future.
		modified = now
	}
	return ResourceInput{Body: body, Modified: modified, Was: was}
}

// resource encodes one input at once (the CV: a single document).
func resource(was *Resource, body []byte, modified time.Time, first bool) *Resource {
	in := input(was, body, modified, first)
	if in.Was != nil && in.Was.Holds(body) { // by hash: nothing inflated
		return in.Was
	}
	return NewResource(body, in.Modified)
}
