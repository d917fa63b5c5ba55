package contentful

import (
	"slices"
	"strings"
	"time"
)

// DefaultLinkDepth is how many links deep entries are rendered in full when
// RenderOptions.Depth is unset: a post, its author, the author's employer.
const DefaultLinkDepth = 2

// maxLinkDepth is the Delivery API's deepest include.
const maxLinkDepth = 10

// RenderOptions shape folio's entry JSON.
type RenderOptions struct {
	// Depth bounds how many links deep entries are rendered in full: a
	// top-level entry is at depth 0, an entry it links at 1. Deeper links
	// render as stubs. 0 means DefaultLinkDepth; at most 10.
	Depth int
	// SummaryType is the content type whose entries render as summaries
	// wherever they are linked (the blog's posts): a link from a profile or
	// from another post shows what a teaser needs, not a whole post with
	// its own links.
	SummaryType string
	// SummaryFields are the fields a summary keeps (those the entry has).
	// Inside a summary, assets are resolved and linked entries are stubs,
	// so a summary is the same wherever it appears.
	SummaryFields []string
}

func (o RenderOptions) depth() int {
	if o.Depth <= 0 {
		return DefaultLinkDepth
	}
	return min(o.Depth, maxLinkDepth)
}

// Renderer renders entries from a set of raw entities in folio's JSON
// (CONTRACT.md, "Entry JSON"). It decodes an entity only when a render
// reaches it, once: rendering a few entries of a large collection costs
// what they reach. A Renderer is not safe for concurrent use.
type Renderer struct {
	ents    map[Ref]Entity
	opts    RenderOptions
	decoded map[Ref]*entity
}

// NewRenderer renders from ents (by ref, as Collection.Entities holds them).
func NewRenderer(ents map[Ref]Entity, opts RenderOptions) *Renderer {
	return &Renderer{ents: ents, opts: opts, decoded: map[Ref]*entity{}}
}

// lookup decodes the entity ref names, or returns nil when ents lacks it.
// What it decodes it keeps for the renders to come, except that of an
// entry of the summary type it keeps only the summary fields: wherever such
// an entry is linked it renders as a summary (or a stub), and a blog's
// posts, whole, would be most of the collection decoded at once. full asks
// for the whole entity (a top-level render).
func (r *Renderer) lookup(ref Ref, full bool) (*entity, error) {
	if e, ok := r.decoded[ref]; ok && (!full || !e.trimmed) {
		return e, nil
	}
	raw, ok := r.ents[ref]
	if !ok {
		return nil, nil
	}
	b, err := raw.JSON()
	if err != nil {
		return nil, err
	}
	e, err := decodeEntity(b)
	if err != nil {
		return nil, err
	}
	if e.Sys.Type == "Entry" && e.contentType() == r.opts.SummaryType {
		t := *e
		t.Fields = make(map[string]any, len(r.opts.SummaryFields))
		for _, f := range r.opts.SummaryFields {
			if v, ok := e.Fields[f]; ok {
				t.Fields[f] = v
			}
		}
		t.trimmed = true
		r.decoded[ref] = &t
	} else {
		r.decoded[ref] = e
	}
	return e, nil
}

// Rendering is one response's render: an entry rendered in full in it is a
// stub wherever it appears again (no response serialises the same entry in
// full twice), and Refs collects every entity it reached.
type Rendering struct {
	r    *Renderer
	seen map[string]bool
	// Refs holds every entity the rendering reached, directly or through a
	// link, stubs and summaries included, with its revision (0 for a link
	// that did not resolve): what a change to that entity affects.
	Refs map[Ref]int
	err  error
}

// Begin starts the rendering of one response.
func (r *Renderer) Begin() *Rendering {
	return &Rendering{r: r, seen: map[string]bool{}, Refs: map[Ref]int{}}
}

// Listed declares the entries the response holds in full at its top level
// (the CV's items): a link to one of them renders as a stub wherever it
// appears, even before the entry's own place, so that the response holds
// each entry in full once, at its place in the list.
func (g *Rendering) Listed(ids ...string) {
	for _, id := range ids {
		g.seen[id] = true
	}
}

// Full renders a top-level entry in full, links resolved. It returns nil,
// nil when the entities lack the entry, and ErrMalformed for an entity
// that does not decode.
func (g *Rendering) Full(id string) (*Entry, error) {
	e, err := g.r.lookup(EntryRef(id), true)
	if e == nil || err != nil {
		return nil, err
	}
	out := g.full(e, 0)
	return out, g.err
}

// Summary renders an entry as a summary (RenderOptions.SummaryFields).
func (g *Rendering) Summary(id string) (*Entry, error) {
	e, err := g.r.lookup(EntryRef(id), false)
	if e == nil || err != nil {
		return nil, err
	}
	out := g.summary(e)
	return out, g.err
}

func (g *Rendering) shell(e *entity) *Entry {
	g.Refs[e.ref()] = e.Sys.Revision
	return &Entry{ID: e.Sys.ID, ContentType: e.contentType(), CreatedAt: e.Sys.CreatedAt, UpdatedAt: e.Sys.UpdatedAt,
		Revision: e.Sys.Revision, modified: parseTime(e.Sys.UpdatedAt)}
}

func (g *Rendering) full(e *entity, depth int) *Entry {
	out := g.shell(e)
	g.seen[e.Sys.ID] = true
	out.Fields = make(map[string]any, len(e.Fields))
	// In the order the JSON will have (sorted keys), so "the first
	// occurrence is the full one" is the same at every build.
	for _, k := range sortedKeys(e.Fields) {
		out.Fields[k] = g.value(e.Fields[k], depth, false, &out.modified)
	}
	return out
}

func (g *Rendering) summary(e *entity) *Entry {
	out := g.shell(e)
	out.Fields = map[string]any{}
	for _, k := range sortedKeys(e.Fields) {
		if slices.Contains(g.r.opts.SummaryFields, k) {
			out.Fields[k] = g.value(e.Fields[k], 0, true, &out.modified)
		}
	}
	return out
}

// value resolves links anywhere in a field value: plain link fields, arrays
// of links, and rich-text nodes' data.target alike. inSummary renders
// linked entries as stubs.
func (g *Rendering) value(v any, depth int, inSummary bool, modified *time.Time) any {
	switch t := v.(type) {
	case map[string]any:
		if linkType, id, ok := asLink(t); ok {
			return g.link(linkType, id, depth, inSummary, modified)
		}
		out := make(map[string]any, len(t))
		for _, k := range sortedKeys(t) {
			out[k] = g.value(t[k], depth, inSummary, modified)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = g.value(x, depth, inSummary, modified)
		}
		return out
	default:
		return v
	}
}

func (g *Rendering) link(linkType, id string, depth int, inSummary bool, modified *time.Time) any {
	var ref Ref
	switch linkType {
	case "Asset":
		ref = AssetRef(id)
	case "Entry":
		ref = EntryRef(id)
	default:
		// Links to other kinds (a Space, a ContentType, a Tag) are not
		// content: keep them as Contentful wrote them.
		return map[string]any{"sys": map[string]any{"type": "Link", "linkType": linkType, "id": id}}
	}
	e, err := g.r.lookup(ref, false)
	if err != nil && g.err == nil {
		g.err = err
	}
	if e == nil {
		// A link that renders as null still ties the response to its
		// target: publishing the target later changes it.
		if _, ok := g.Refs[ref]; !ok {
			g.Refs[ref] = 0
		}
		return nil
	}
	if linkType == "Asset" {
		g.Refs[ref] = e.Sys.Revision
		later(modified, parseTime(e.Sys.UpdatedAt))
		return asset(e)
	}
	switch {
	case e.contentType() == g.r.opts.SummaryType && !inSummary:
		s := g.summary(e)
		later(modified, s.modified)
		return s
	case inSummary || g.seen[id] || depth+1 > g.r.opts.depth():
		g.Refs[ref] = e.Sys.Revision
		return Stub{ID: id, ContentType: e.contentType()}
	}
	linked := g.full(e, depth+1)
	later(modified, linked.modified)
	return linked
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// kindAndID splits a Ref.
func kindAndID(ref Ref) (kind, id string) {
	kind, id, _ = strings.Cut(string(ref), ":")
	return kind, id
}
