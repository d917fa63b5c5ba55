package localapi

import (
	"fmt"
	"maps"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Limits and defaults of the Delivery API's collection endpoints.
const (
	defaultLimit   = 100
	maxLimit       = 1000
	defaultInclude = 1
	maxInclude     = 10
)

// query is a parsed collection query.
type query struct {
	include int
	limit   int
	skip    int
	order   []orderKey
	filters []filter
	locale  string
	sel     *selection
	// linksTo holds the targets of links_to_entry and links_to_asset: an
	// item must link to every one of them.
	linksTo []entityKey
}

// filter is one sys.* or fields.* condition.
type filter struct {
	path   []string
	op     string // "" for equality
	values []string
}

// orderKey is one term of the order parameter.
type orderKey struct {
	path []string
	desc bool
}

// selection is a parsed select parameter: whole top-level objects ("sys") or
// some of their keys ("fields.title").
type selection struct {
	whole map[string]bool
	keys  map[string][]string
}

// queryError describes a rejected query parameter.
type queryError struct {
	param   string
	name    string
	message string
}

// unsupportedParams are real Delivery API parameters this Server does not
// implement. They are refused rather than ignored, because ignoring them would
// return unfiltered results that look plausible.
var unsupportedParams = map[string]bool{"query": true}

// linkParams are the incoming-link parameters and the type of entity each
// names.
var linkParams = map[string]string{"links_to_entry": typeEntry, "links_to_asset": typeAsset}

// supportedOps are the filter operators this Server implements.
var supportedOps = map[string]bool{
	"": true, "ne": true, "in": true, "nin": true, "all": true, "exists": true,
	"lt": true, "lte": true, "gt": true, "gte": true,
}

// parseQuery parses and validates the query parameters of a request for
// entities of type typ.
func parseQuery(vals url.Values, typ string) (*query, *queryError) {
	q := &query{include: defaultInclude, limit: defaultLimit}
	var contentTypes []string // single-valued content type constraints
	needsContentType := ""    // a parameter that requires a content type
	single := func(p string) (string, *queryError) {
		if len(vals[p]) != 1 {
			return "", &queryError{p, "duplicate", fmt.Sprintf("The parameter %q may be given only once.", p)}
		}
		return vals[p][0], nil
	}
	number := func(p string, lo, hi int) (int, *queryError) {
		v, qe := single(p)
		if qe != nil {
			return 0, qe
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			return 0, &queryError{p, "range", fmt.Sprintf("The value %q of %q must be an integer from %d to %d.", v, p, lo, hi)}
		}
		return n, nil
	}
	for _, p := range slices.Sorted(maps.Keys(vals)) {
		var qe *queryError
		switch {
		case p == "include":
			q.include, qe = number(p, 0, maxInclude)
		case p == "limit":
			q.limit, qe = number(p, 0, maxLimit)
		case p == "skip":
			q.skip, qe = number(p, 0, math.MaxInt)
		case p == "locale":
			q.locale, qe = single(p)
			if qe == nil && (q.locale == "" || q.locale == "*") {
				qe = &queryError{p, "unsupported", "locale must name one locale; this local API holds single-locale content and does not support locale=*."}
			}
		case p == "content_type":
			if typ != typeEntry {
				continue // meaningless for assets; ignored
			}
			var ct string
			if ct, qe = single(p); qe == nil {
				if ct == "" {
					qe = &queryError{p, "empty", "content_type must not be empty."}
				}
				contentTypes = append(contentTypes, ct)
				q.filters = append(q.filters, filter{path: []string{"sys", "contentType", "sys", "id"}, values: []string{ct}})
			}
		case p == "order":
			var v string
			if v, qe = single(p); qe == nil {
				q.order, qe = parseOrder(v)
				for _, k := range q.order {
					if k.path[0] == "fields" && needsContentType == "" {
						needsContentType = p
					}
				}
			}
		case p == "select":
			var v string
			if v, qe = single(p); qe == nil {
				var fieldKeys bool
				q.sel, fieldKeys, qe = parseSelect(v)
				if fieldKeys && needsContentType == "" {
					needsContentType = p
				}
			}
		case linkParams[p] != "":
			var k entityKey
			if k, qe = parseLinksTo(p, vals[p], typ); qe == nil {
				q.linksTo = append(q.linksTo, k)
			}
		case unsupportedParams[p]:
			qe = &queryError{p, "unsupported", fmt.Sprintf("The parameter %q is not supported by this local Delivery API.", p)}
		case strings.HasPrefix(p, "sys.") || strings.HasPrefix(p, "fields.") || strings.HasPrefix(p, "metadata."):
			var fs []filter
			fs, qe = parseFilter(p, vals[p])
			q.filters = append(q.filters, fs...)
			if qe == nil && p == "sys.contentType.sys.id" && len(vals[p]) == 1 {
				contentTypes = append(contentTypes, vals[p][0])
			}
			if strings.HasPrefix(p, "fields.") && needsContentType == "" {
				needsContentType = p
			}
		}
		if qe != nil {
			return nil, qe
		}
	}
	// Like Contentful, searching, ordering or selecting on fields needs the
	// entries narrowed to one content type (the real API needs it to know
	// the fields' types).
	distinctTypes := slices.Compact(slices.Sorted(slices.Values(contentTypes)))
	if typ == typeEntry && needsContentType != "" && len(distinctTypes) != 1 {
		return nil, &queryError{needsContentType, "contentTypeRequired", fmt.Sprintf(
			"Searching, ordering or selecting on fields (%q) requires exactly one content type: add content_type=<id>.", needsContentType)}
	}
	return q, nil
}

// parseLinksTo parses links_to_entry or links_to_asset: one id, on the
// entries endpoint only (the assets endpoint has no links to search; answering
// with every asset would look like a result).
func parseLinksTo(p string, values []string, typ string) (entityKey, *queryError) {
	if typ != typeEntry {
		return entityKey{}, &queryError{p, "unsupported", fmt.Sprintf("The parameter %q applies to entries only.", p)}
	}
	if len(values) != 1 {
		return entityKey{}, &queryError{p, "duplicate", fmt.Sprintf("The parameter %q may be given only once.", p)}
	}
	id := values[0]
	if id == "" || strings.Contains(id, ",") {
		return entityKey{}, &queryError{p, "syntax", fmt.Sprintf("The parameter %q takes exactly one id.", p)}
	}
	return entityKey{linkParams[p], id}, nil
}

// parseFilter parses a filter parameter such as fields.slug or sys.id[in].
func parseFilter(p string, values []string) ([]filter, *queryError) {
	name, op := p, ""
	if i := strings.IndexByte(p, '['); i >= 0 {
		if !strings.HasSuffix(p, "]") {
			return nil, &queryError{p, "syntax", fmt.Sprintf("The parameter %q is malformed.", p)}
		}
		name, op = p[:i], p[i+1:len(p)-1]
	}
	if !supportedOps[op] {
		return nil, &queryError{p, "unsupported", fmt.Sprintf("The operator [%s] in %q is not supported by this local Delivery API.", op, p)}
	}
	path := strings.Split(name, ".")
	if slices.Contains(path, "") {
		return nil, &queryError{p, "syntax", fmt.Sprintf("The parameter %q names an empty attribute.", p)}
	}
	var out []filter
	for _, v := range values {
		f := filter{path: path, op: op, values: []string{v}}
		switch op {
		case "in", "nin", "all":
			f.values = strings.Split(v, ",")
		case "exists":
			if v != "true" && v != "false" {
				return nil, &queryError{p, "syntax", fmt.Sprintf("The value of %q must be true or false.", p)}
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// parseOrder parses an order parameter such as -fields.publishDate,sys.id.
func parseOrder(v string) ([]orderKey, *queryError) {
	var keys []orderKey
	for term := range strings.SplitSeq(v, ",") {
		k := orderKey{}
		if rest, ok := strings.CutPrefix(term, "-"); ok {
			k.desc, term = true, rest
		}
		k.path = strings.Split(term, ".")
		if len(k.path) < 2 || (k.path[0] != "sys" && k.path[0] != "fields") || slices.Contains(k.path, "") {
			return nil, &queryError{"order", "syntax", fmt.Sprintf("The order term %q must be [-]sys.<attribute> or [-]fields.<field>.", term)}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// parseSelect parses a select parameter such as sys.id,fields.title. It also
// reports whether individual fields are selected, which requires a content
// type on the entries endpoint.
func parseSelect(v string) (*selection, bool, *queryError) {
	sel := &selection{whole: map[string]bool{}, keys: map[string][]string{}}
	fieldKeys := false
	for term := range strings.SplitSeq(v, ",") {
		parts := strings.Split(term, ".")
		top := parts[0]
		if (top != "sys" && top != "fields" && top != "metadata") || len(parts) > 2 || slices.Contains(parts, "") {
			return nil, false, &queryError{"select", "syntax", fmt.Sprintf(
				"The select term %q must be sys, fields or metadata, optionally followed by one .<attribute>.", term)}
		}
		if len(parts) == 1 {
			sel.whole[top] = true
		} else {
			sel.keys[top] = append(sel.keys[top], parts[1])
			fieldKeys = fieldKeys || top == "fields"
		}
	}
	return sel, fieldKeys, nil
}

// apply returns a copy of doc holding only the selected parts.
func (sel *selection) apply(doc map[string]any) map[string]any {
	out := make(map[string]any)
	for _, top := range []string{"fields", "metadata", "sys"} {
		src, ok := doc[top]
		if !ok {
			continue
		}
		if sel.whole[top] {
			out[top] = src
			continue
		}
		keys := sel.keys[top]
		m, ok := src.(map[string]any)
		if len(keys) == 0 || !ok {
			continue
		}
		part := make(map[string]any)
		for _, k := range keys {
			if v, ok := m[k]; ok {
				part[k] = v
			}
		}
		out[top] = part
	}
	return out
}
