package localapi

import (
	"cmp"
	"maps"
	"slices"
	"strings"
)

// linkError is one entry of a collection's "errors": a link that could not be
// resolved because its target is not published.
type linkError struct {
	Sys struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"sys"`
	Details struct {
		Type     string `json:"type"`
		LinkType string `json:"linkType"`
		ID       string `json:"id"`
	} `json:"details"`
}

// includes is a collection's "includes". Empty lists are omitted.
type includes struct {
	Entry []any `json:"Entry,omitempty"`
	Asset []any `json:"Asset,omitempty"`
}

// arrayResponse is a collection answer, fields in the API's order.
type arrayResponse struct {
	Sys struct {
		Type string `json:"type"`
	} `json:"sys"`
	Total    int         `json:"total"`
	Skip     int         `json:"skip"`
	Limit    int         `json:"limit"`
	Items    []any       `json:"items"`
	Includes *includes   `json:"includes,omitempty"`
	Errors   []linkError `json:"errors,omitempty"`
}

// collection filters, orders and pages the entities of type typ and resolves
// the page's links.
func (s *Server) collection(snap *snapshot, typ string, q *query) *arrayResponse {
	all := snap.entries
	if typ == typeAsset {
		all = snap.assets
	}
	var matched []*entity
	for _, e := range all {
		if linksToAll(e, q.linksTo) && matchesAll(e, q.filters) {
			matched = append(matched, e)
		}
	}
	if len(q.order) > 0 {
		// matched is in sys.id order, so the stable sort breaks ties by sys.id.
		slices.SortStableFunc(matched, func(a, b *entity) int { return compareOrder(a, b, q.order) })
	}
	resp := &arrayResponse{Total: len(matched), Skip: q.skip, Limit: q.limit, Items: []any{}}
	resp.Sys.Type = "Array"
	lo := min(q.skip, len(matched))
	hi := min(lo+q.limit, len(matched))
	page := matched[lo:hi]
	for _, e := range page {
		resp.Items = append(resp.Items, render(e, q.locale, q.sel))
	}
	inc, missing := resolve(snap, page, q.include)
	var out includes
	for _, e := range inc {
		if e.key.typ == typeEntry {
			out.Entry = append(out.Entry, render(e, q.locale, nil))
		} else {
			out.Asset = append(out.Asset, render(e, q.locale, nil))
		}
	}
	if len(out.Entry) > 0 || len(out.Asset) > 0 {
		resp.Includes = &out
	}
	for _, k := range missing {
		var le linkError
		le.Sys.ID, le.Sys.Type = "notResolvable", "error"
		le.Details.Type, le.Details.LinkType, le.Details.ID = "Link", k.typ, k.id
		resp.Errors = append(resp.Errors, le)
	}
	return resp
}

// linksToAll reports whether e links to every target, through a link field,
// an array of links or a rich text node's data.target (e.links indexes them
// all). A link counts whether or not its target is published.
func linksToAll(e *entity, targets []entityKey) bool {
	for _, k := range targets {
		if !slices.Contains(e.links, k) {
			return false
		}
	}
	return true
}

// resolve follows links from the page's items breadth-first, depth levels
// deep. It returns the entities reached that are not items themselves, and the
// links whose targets do not exist, each once and sorted by type and id.
// Visiting each entity once keeps cycles among entries from looping.
func resolve(snap *snapshot, items []*entity, depth int) (included []*entity, missing []entityKey) {
	seen := make(map[entityKey]bool, len(items))
	for _, e := range items {
		seen[e.key] = true
	}
	frontier := items
	for level := 0; level < depth && len(frontier) > 0; level++ {
		var next []*entity
		for _, e := range frontier {
			for _, k := range e.links {
				if seen[k] {
					continue
				}
				seen[k] = true
				if t, ok := snap.byKey[k]; ok {
					included = append(included, t)
					next = append(next, t)
				} else {
					missing = append(missing, k)
				}
			}
		}
		frontier = next
	}
	slices.SortFunc(included, func(a, b *entity) int { return compareKeys(a.key, b.key) })
	slices.SortFunc(missing, compareKeys)
	return included, missing
}

// compareKeys orders keys by type, then id.
func compareKeys(a, b entityKey) int {
	return cmp.Or(strings.Compare(a.typ, b.typ), strings.Compare(a.id, b.id))
}

// render returns the entity as served: with sys.locale set to locale when one
// was requested, reduced to sel when given. The stored document is never
// modified.
func render(e *entity, locale string, sel *selection) map[string]any {
	doc := e.doc
	if locale != "" {
		doc = maps.Clone(doc)
		sys := maps.Clone(doc["sys"].(map[string]any))
		sys["locale"] = locale
		doc["sys"] = sys
	}
	if sel != nil {
		doc = sel.apply(doc)
	}
	return doc
}
