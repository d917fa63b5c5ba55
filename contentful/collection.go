package contentful

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	sdk "github.com/contentful-labs/contentful-go"
)

const (
	maxLimit   = 1000 // the Delivery API's largest page
	minLimit   = 10   // below this, a "response too big" is not fixed by paging
	maxInclude = 10   // the Delivery API's deepest include
	// maxRestarts bounds how often a fetch starts over because the collection
	// changed between its pages.
	maxRestarts = 3
)

// Query describes one collection: the content types it holds and their order.
type Query struct {
	ContentTypes []string
	// Order is the Delivery API order, e.g. "-fields.publishDate". sys.id is
	// appended as a tie-breaker so that skip-based pages neither repeat nor
	// drop entries.
	Order string
	// Shallow fetches the items without includes and then what they link,
	// by id (Fill): for a collection whose items link each other (a blog's
	// related posts), where every include level would bring most of the
	// collection again with each page.
	Shallow bool
}

// Collection is a fetched collection: its top-level entries in the
// Delivery API's order and every entity the fetch returned, raw. Render it
// with a Renderer.
type Collection struct {
	// Items are the top-level entry ids, in the query's order.
	Items []string
	// Entities holds every entity the Delivery API returned for the
	// collection, items and includes, as it sent them.
	Entities map[Ref]Entity
	// Requests and Bytes count the Delivery API calls and bytes it took.
	Requests int
	Bytes    int
	Took     time.Duration
	// Partial marks a collection put together from what was served and
	// what changed (an incremental fetch): a render that reaches an entity
	// it lacks may be reaching one nobody fetched, rather than one that is
	// not published.
	Partial bool
}

// Entity is one entry or asset as the Delivery API sent it: its identity,
// its revision and its raw JSON (the single-locale shape of "items" and
// "includes").
type Entity struct {
	// Revision is sys.revision, the publish counter.
	Revision int
	// CreatedAt is sys.createdAt: with the id, it names one incarnation of
	// the entity (an entry deleted and re-created with the same id has a
	// new createdAt and starts again at revision 1).
	CreatedAt string
	// Raw is the entity's JSON, deflated when Packed (Pack): a served part
	// keeps thousands of entities for the renders to come, and JSON
	// deflates to about a quarter. Read it with JSON.
	Raw    []byte
	Packed bool
	// Sum is a hash of the JSON (FNV-1a), set by a fetch: what a later
	// build compares to find what changed (Hash computes it when unset).
	Sum uint64
}

// JSON returns the entity's JSON, inflating it when packed; it fails with
// ErrMalformed when packed bytes do not inflate.
func (e Entity) JSON() ([]byte, error) {
	if !e.Packed {
		return e.Raw, nil
	}
	b, err := io.ReadAll(flate.NewReader(bytes.NewReader(e.Raw)))
	if err != nil {
		return nil, fmt.Errorf("%w: packed entity: %v", ErrMalformed, err)
	}
	return b, nil
}

// Pack returns the entity with its JSON deflated (fastest level), Sum set.
func (e Entity) Pack() Entity {
	if e.Packed {
		return e
	}
	e.Sum = e.Hash()
	var buf bytes.Buffer
	w := packers.Get().(*flate.Writer) // a writer's state is ~600 KB: reuse it
	w.Reset(&buf)
	w.Write(e.Raw)
	w.Close()
	packers.Put(w)
	e.Raw, e.Packed = bytes.Clone(buf.Bytes()), true
	return e
}

var packers = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed) // the level is valid
	return w
}}

// Hash is Sum, computed from the JSON when unset.
func (e Entity) Hash() uint64 {
	if e.Sum != 0 {
		return e.Sum
	}
	b, err := e.JSON()
	if err != nil {
		return 0
	}
	return sumOf(b)
}

func sumOf(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64()
}

// Fetch reads a whole collection: all pages, all content types of the query in
// one request per page, links resolved up to ten levels. Any error fails the
// whole fetch: a partial collection is never returned.
func (c *Client) Fetch(ctx context.Context, q Query) (*Collection, error) {
	start := time.Now()
	if len(q.ContentTypes) == 0 {
		return nil, fmt.Errorf("contentful: query names no content type")
	}
	var out *Collection
	var err error
	for restart := 0; ; restart++ {
		out, err = c.fetchOnce(ctx, q)
		if !errors.Is(err, errChanged) || restart == maxRestarts {
			break
		}
		c.log.Info("contentful: collection changed while paging; starting over", "types", strings.Join(q.ContentTypes, ","))
	}
	if err == nil && q.Shallow {
		err = c.Fill(ctx, out, func(Ref) bool { return false }, c.include)
	}
	if err != nil {
		return nil, err
	}
	out.Took = time.Since(start)
	return out, nil
}

var errChanged = errors.New("contentful: the collection changed while it was being paged")

func (c *Client) fetchOnce(ctx context.Context, q Query) (*Collection, error) {
	seen := map[string]bool{}
	out := &Collection{Entities: map[Ref]Entity{}}
	limit := c.pageSize
	total := -1
	for skip := 0; ; {
		p, err := c.getPage(ctx, c.values(q, skip, limit))
		if isTooBig(err) && limit > minLimit {
			limit /= 2
			c.log.Info("contentful: page too big; halving the page size", "limit", limit)
			continue
		}
		if err != nil {
			return nil, err
		}
		out.Requests++
		out.Bytes += p.bytes
		if total >= 0 && p.Total != total {
			return nil, errChanged
		}
		total = p.Total
		for _, raw := range p.Items {
			e, err := keep(out, raw)
			if err != nil {
				return nil, err
			}
			if e.Type == "Entry" && !seen[e.ID] {
				seen[e.ID] = true
				out.Items = append(out.Items, e.ID)
			}
		}
		for _, raw := range slices.Concat(p.Includes.Entry, p.Includes.Asset) {
			if _, err := keep(out, raw); err != nil {
				return nil, err
			}
		}
		skip += len(p.Items)
		if len(p.Items) == 0 || skip >= p.Total {
			break
		}
	}
	if len(out.Items) != total && total >= 0 {
		return nil, errChanged
	}
	return out, nil
}

// keep checks one raw entity and adds it to c.Entities.
func keep(c *Collection, raw json.RawMessage) (*sdk.Sys, error) {
	sys, err := sysOf(raw)
	if err != nil {
		return nil, err
	}
	ref := EntryRef(sys.ID)
	if sys.Type == "Asset" {
		ref = AssetRef(sys.ID)
	}
	// Packed at once (a copy, so the page's whole body is not held by one
	// entity): a fetch of a whole large blog holds every entity until the
	// build is over, about four times the memory unpacked; a render
	// inflates each entity once.
	c.Entities[ref] = Entity{Revision: sys.Revision, CreatedAt: sys.CreatedAt, Raw: raw, Sum: sumOf(raw)}.Pack()
	return sys, nil
}

// values builds one page's query with the SDK's Query, keeping inside the
// bounds where its Values() panics (include > 10, limit > 1000) and setting
// skip ourselves because the SDK holds it in a uint16.
func (c *Client) values(q Query, skip, limit int) url.Values {
	include := c.include
	if q.Shallow {
		include = 0
	}
	sq := sdk.NewQuery().Include(uint16(include)).Limit(uint16(min(limit, maxLimit)))
	if len(q.ContentTypes) == 1 {
		sq.ContentType(q.ContentTypes[0])
	} else {
		sq.In("sys.contentType.sys.id", q.ContentTypes)
	}
	for _, o := range orderWithTieBreak(q.Order) {
		field, desc := strings.CutPrefix(o, "-")
		sq.Order(field, desc)
	}
	if c.locale != "" {
		sq.Locale(c.locale)
	}
	v := sq.Values()
	// The SDK leaves include=0 out, and the Delivery API's default is 1.
	v.Set("include", strconv.Itoa(include))
	if skip > 0 {
		v.Set("skip", strconv.Itoa(skip))
	}
	return v
}

func orderWithTieBreak(order string) []string {
	var out []string
	hasID := false
	for _, o := range strings.Split(order, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if strings.TrimPrefix(o, "-") == "sys.id" {
			hasID = true
		}
		out = append(out, o)
	}
	if !hasID {
		out = append(out, "sys.id")
	}
	return out
}

// NewCollection builds a collection from raw entities in the Delivery
// API's shape, as a fetch would: items are the top-level entries in order,
// includes what they link. For tests and tools; it fails with ErrMalformed
// on an entity that does not decode.
func NewCollection(items []json.RawMessage, includes ...json.RawMessage) (*Collection, error) {
	c := &Collection{Entities: map[Ref]Entity{}}
	for _, raw := range items {
		e, err := keep(c, raw)
		if err != nil {
			return nil, err
		}
		if e.Type != "Entry" {
			return nil, fmt.Errorf("%w: item %s is not an entry", ErrMalformed, e.ID)
		}
		c.Items = append(c.Items, e.ID)
	}
	for _, raw := range includes {
		if _, err := keep(c, raw); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Links returns the entries and assets an entity's fields link to (link
// fields, arrays of links, rich-text data.target alike), each once; it
// fails with ErrMalformed when the raw JSON is not an entity.
func (e Entity) Links() ([]Ref, error) {
	b, err := e.JSON()
	if err != nil {
		return nil, err
	}
	d, err := decodeEntity(b)
	if err != nil {
		return nil, err
	}
	var out []Ref
	var walk func(v any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			if kind, id, ok := asLink(t); ok {
				if ref := Ref(kind + ":" + id); (kind == "Entry" || kind == "Asset") && !slices.Contains(out, ref) {
					out = append(out, ref)
				}
				return
			}
			for _, x := range t {
				walk(x)
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		}
	}
	walk(map[string]any(d.Fields))
	return out, nil
}
