package contentful

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The queries of an incremental refresh: what a change to a few entities
// costs, instead of the whole collection. See refresh/delta.go for how they
// combine.

// IndexEntry is one top-level entry as an index query lists it: identity
// and revision, no fields.
type IndexEntry struct {
	ID        string
	Revision  int
	CreatedAt string
}

// Index lists a collection's entries in the query's order with only their
// sys.id, sys.revision and sys.createdAt (select): about 100 bytes an
// entry, a request per 1,000. It restarts, like Fetch, when the collection
// changes while it is paged; Requests and Took are added to stats.
func (c *Client) Index(ctx context.Context, q Query, stats *Collection) ([]IndexEntry, error) {
	if len(q.ContentTypes) == 0 {
		return nil, fmt.Errorf("contentful: query names no content type")
	}
	start := time.Now()
	defer func() { stats.Took += time.Since(start) }()
	for restart := 0; ; restart++ {
		out, err := c.indexOnce(ctx, q, stats)
		if err == errChanged && restart < maxRestarts {
			continue
		}
		return out, err
	}
}

func (c *Client) indexOnce(ctx context.Context, q Query, stats *Collection) ([]IndexEntry, error) {
	var out []IndexEntry
	total := -1
	for skip := 0; ; {
		v := c.values(q, skip, maxLimit)
		v.Set("include", "0")
		// The SDK refuses select without content_type (CONTENTFUL.md); sys
		// fields need none, so it is set here.
		v.Set("select", "sys.id,sys.revision,sys.createdAt,sys.type")
		p, err := c.getPage(ctx, v)
		if err != nil {
			return nil, err
		}
		stats.Requests++
		stats.Bytes += p.bytes
		if total >= 0 && p.Total != total {
			return nil, errChanged
		}
		total = p.Total
		for _, raw := range p.Items {
			var e struct {
				Sys struct {
					ID, Type, CreatedAt string
					Revision            int
				} `json:"sys"`
			}
			if err := json.Unmarshal(raw, &e); err != nil || e.Sys.ID == "" {
				return nil, fmt.Errorf("%w: index item without sys.id", ErrMalformed)
			}
			out = append(out, IndexEntry{ID: e.Sys.ID, Revision: e.Sys.Revision, CreatedAt: e.Sys.CreatedAt})
		}
		skip += len(p.Items)
		if len(p.Items) == 0 || skip >= p.Total {
			break
		}
	}
	return out, nil
}

// idsPerRequest keeps a sys.id[in] query's URL short.
const idsPerRequest = 100

// Entries fetches entries by id with their direct links (include=1) into
// c: found entries become items (in no set order), everything returned
// becomes entities. Ids the Delivery API does not return are not published
// (or the CDN lags). Fill completes what deeper links need.
func (c *Client) Entries(ctx context.Context, ids []string, into *Collection) error {
	start := time.Now()
	defer func() { into.Took += time.Since(start) }()
	return c.byID(ctx, "entries", ids, into, 1, true)
}

func (c *Client) byID(ctx context.Context, endpoint string, ids []string, into *Collection, include int, asItems bool) error {
	for chunk := range slices.Chunk(ids, idsPerRequest) {
		v := url.Values{}
		v.Set("sys.id[in]", strings.Join(chunk, ","))
		if err := c.collect(ctx, endpoint, v, into, include, asItems); err != nil {
			return err
		}
	}
	return nil
}

// Fill fetches, by id, the entities that into's entities link and neither
// into nor have holds, then what those link, for at most rounds levels:
// what a render of a few fresh entities needs, at a request or two a
// level, instead of a deep include that drags in half a blog. Entities the
// Delivery API does not return are left out (their links render as null).
func (c *Client) Fill(ctx context.Context, into *Collection, have func(Ref) bool, rounds int) error {
	start := time.Now()
	defer func() { into.Took += time.Since(start) }()
	asked := map[Ref]bool{}
	next := slices.Collect(maps.Keys(into.Entities))
	for range rounds {
		var entries, assets []string
		for _, ref := range next {
			links, err := into.Entities[ref].Links()
			if err != nil {
				continue
			}
			for _, l := range links {
				if _, ok := into.Entities[l]; ok || asked[l] || have(l) {
					continue
				}
				asked[l] = true
				kind, id := kindAndID(l)
				if kind == "Asset" {
					assets = append(assets, id)
				} else {
					entries = append(entries, id)
				}
			}
		}
		if len(entries) == 0 && len(assets) == 0 {
			return nil
		}
		before := maps.Clone(into.Entities)
		if err := c.byID(ctx, "entries", entries, into, 0, false); err != nil {
			return err
		}
		if err := c.byID(ctx, "assets", assets, into, 0, false); err != nil {
			return err
		}
		next = next[:0]
		for ref := range into.Entities {
			if _, old := before[ref]; !old {
				next = append(next, ref)
			}
		}
	}
	return nil
}

// LinksTo fetches the entries that link to an entity (the Delivery API's
// links_to_entry or links_to_asset) with their direct links (include=1),
// into c as entities: the entity itself comes back among the includes
// while it is published and something links it.
func (c *Client) LinksTo(ctx context.Context, ref Ref, into *Collection) error {
	start := time.Now()
	defer func() { into.Took += time.Since(start) }()
	kind, id := kindAndID(ref)
	v := url.Values{}
	switch kind {
	case "Entry":
		v.Set("links_to_entry", id)
	case "Asset":
		v.Set("links_to_asset", id)
	default:
		return fmt.Errorf("contentful: no links to a %s", kind)
	}
	return c.collect(ctx, "entries", v, into, 1, false)
}

// collect pages through one query of an endpoint ("entries", "assets"),
// adding what it returns to into; asItems makes the top-level entries
// items.
func (c *Client) collect(ctx context.Context, endpoint string, v url.Values, into *Collection, include int, asItems bool) error {
	if into.Entities == nil {
		into.Entities = map[Ref]Entity{}
	}
	for skip := 0; ; {
		q := url.Values{}
		for k, vs := range v {
			q[k] = vs
		}
		if endpoint == "entries" {
			q.Set("include", strconv.Itoa(include))
		}
		q.Set("limit", strconv.Itoa(maxLimit))
		q.Set("order", "sys.id")
		if skip > 0 {
			q.Set("skip", strconv.Itoa(skip))
		}
		if c.locale != "" {
			q.Set("locale", c.locale)
		}
		p, err := c.getPageOf(ctx, endpoint, q)
		if err != nil {
			return err
		}
		into.Requests++
		into.Bytes += p.bytes
		for _, raw := range p.Items {
			e, err := keep(into, raw)
			if err != nil {
				return err
			}
			if asItems && e.Type == "Entry" && !slices.Contains(into.Items, e.ID) {
				into.Items = append(into.Items, e.ID)
			}
		}
		for _, raw := range slices.Concat(p.Includes.Entry, p.Includes.Asset) {
			if _, err := keep(into, raw); err != nil {
				return err
			}
		}
		skip += len(p.Items)
		if len(p.Items) == 0 || skip >= p.Total {
			return nil
		}
	}
}
