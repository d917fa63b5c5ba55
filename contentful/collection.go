package contentful

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
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
}

// Collection is a fetched collection in folio's JSON.
type Collection struct {
	Entries []*Entry
	// Refs holds every entity the collection contains, directly or through a
	// link, with its Delivery API revision (0 for a link that did not
	// resolve).
	Refs map[Ref]int
	// Entities holds every entity the Delivery API returned for the
	// collection, items and includes, as it sent them: what a later build
	// needs to render one of them again (With).
	Entities map[Ref]Entity
	// Requests and Bytes count the Delivery API calls and bytes it took.
	Requests int
	Bytes    int
	Took     time.Duration

	items []string  // the top-level entry ids, in the Delivery API's order
	res   *resolver // the decoded entities, by id
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
	Raw       json.RawMessage
}

// With renders the collection again with some entities swapped for other
// versions of themselves (replace, by ref, decoded from their Raw) and some
// taken out (drop: a dropped entry leaves the top-level list, and links to
// a dropped entity render as null). The receiver is not changed.
func (c *Collection) With(replace map[Ref]Entity, drop map[Ref]bool) (*Collection, error) {
	res := newResolver()
	res.entries = make(map[string]*entity, len(c.res.entries))
	res.assets = make(map[string]*entity, len(c.res.assets))
	for id, e := range c.res.entries {
		res.entries[id] = e
	}
	for id, e := range c.res.assets {
		res.assets[id] = e
	}
	ents := make(map[Ref]Entity, len(c.Entities))
	for ref, e := range c.Entities {
		ents[ref] = e
	}
	for ref, e := range replace {
		d, err := decodeEntity(e.Raw)
		if err != nil {
			return nil, err
		}
		if d.ref() != ref {
			return nil, fmt.Errorf("%w: %s stored as %s", ErrMalformed, d.ref(), ref)
		}
		res.add(d)
		ents[ref] = e
	}
	for ref := range drop {
		res.remove(ref)
		delete(ents, ref)
	}
	out := &Collection{Entities: ents, Requests: c.Requests, Bytes: c.Bytes, Took: c.Took, res: res}
	for _, id := range c.items {
		if e, ok := res.entries[id]; ok {
			out.items = append(out.items, id)
			out.Entries = append(out.Entries, res.entry(e, nil))
		}
	}
	out.Refs = res.refs
	return out, nil
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
	if err != nil {
		return nil, err
	}
	out.Took = time.Since(start)
	return out, nil
}

var errChanged = errors.New("contentful: the collection changed while it was being paged")

func (c *Client) fetchOnce(ctx context.Context, q Query) (*Collection, error) {
	res := newResolver()
	var items []*entity
	seen := map[string]bool{}
	out := &Collection{Entities: map[Ref]Entity{}}
	keep := func(e *entity, raw json.RawMessage) {
		// A copy, so the page's whole body is not held by one entity.
		out.Entities[e.ref()] = Entity{Revision: e.Sys.Revision, CreatedAt: e.Sys.CreatedAt, Raw: bytes.Clone(raw)}
	}
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
			e, err := decodeEntity(raw)
			if err != nil {
				return nil, err
			}
			res.add(e)
			keep(e, raw)
			if e.Sys.Type == "Entry" && !seen[e.Sys.ID] {
				seen[e.Sys.ID] = true
				items = append(items, e)
			}
		}
		for _, group := range [][]json.RawMessage{p.Includes.Entry, p.Includes.Asset} {
			for _, raw := range group {
				e, err := decodeEntity(raw)
				if err != nil {
					return nil, err
				}
				res.add(e)
				keep(e, raw)
			}
		}
		skip += len(p.Items)
		if len(p.Items) == 0 || skip >= p.Total {
			break
		}
	}
	if len(items) != total && total >= 0 {
		return nil, errChanged
	}
	out.Entries = make([]*Entry, len(items))
	out.items = make([]string, len(items))
	for i, e := range items {
		out.items[i] = e.Sys.ID
		out.Entries[i] = res.entry(e, nil)
	}
	out.Refs = res.refs
	out.res = res
	return out, nil
}

// values builds one page's query with the SDK's Query, keeping inside the
// bounds where its Values() panics (include > 10, limit > 1000) and setting
// skip ourselves because the SDK holds it in a uint16.
func (c *Client) values(q Query, skip, limit int) url.Values {
	sq := sdk.NewQuery().Include(maxInclude).Limit(uint16(min(limit, maxLimit)))
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
