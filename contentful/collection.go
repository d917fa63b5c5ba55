package contentful

import (
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
	// link, with its Delivery API revision.
	Refs map[Ref]int
	// Requests and Bytes count the Delivery API calls and bytes it took.
	Requests int
	Bytes    int
	Took     time.Duration
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
	out := &Collection{}
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
	for i, e := range items {
		out.Entries[i] = res.entry(e, nil)
	}
	out.Refs = res.refs
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
