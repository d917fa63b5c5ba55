package localapi

import (
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
)

// values returns the non-null values at path in doc. Arrays met on the way or
// at the end are flattened, so fields.tags=go matches an entry whose tags
// contain "go", as in the real API.
func values(doc map[string]any, path []string) []any {
	cur := []any{doc}
	for _, seg := range path {
		var next []any
		for _, c := range cur {
			m, ok := c.(map[string]any)
			if !ok {
				continue
			}
			switch v := m[seg].(type) {
			case nil:
			case []any:
				next = append(next, v...)
			default:
				next = append(next, v)
			}
		}
		cur = next
	}
	return slices.DeleteFunc(cur, func(v any) bool { return v == nil })
}

// matchesAll reports whether e satisfies every filter.
func matchesAll(e *entity, fs []filter) bool {
	for _, f := range fs {
		if !matches(e, f) {
			return false
		}
	}
	return true
}

// matches reports whether e satisfies f.
func matches(e *entity, f filter) bool {
	vs := values(e.doc, f.path)
	anyEq := func(want string) bool {
		return slices.ContainsFunc(vs, func(v any) bool { return equalsParam(v, want) })
	}
	anyIn := func() bool { return slices.ContainsFunc(f.values, anyEq) }
	switch f.op {
	case "":
		return anyEq(f.values[0])
	case "ne":
		return !anyEq(f.values[0])
	case "in":
		return anyIn()
	case "nin":
		return !anyIn()
	case "all":
		for _, want := range f.values {
			if !anyEq(want) {
				return false
			}
		}
		return true
	case "exists":
		return (len(vs) > 0) == (f.values[0] == "true")
	default: // lt, lte, gt, gte
		return slices.ContainsFunc(vs, func(v any) bool {
			c, ok := compareParam(v, f.values[0])
			if !ok {
				return false
			}
			switch f.op {
			case "lt":
				return c < 0
			case "lte":
				return c <= 0
			case "gt":
				return c > 0
			default:
				return c >= 0
			}
		})
	}
}

// equalsParam reports whether the JSON value v equals the query value s,
// read as v's type.
func equalsParam(v any, s string) bool {
	c, ok := compareParam(v, s)
	return ok && c == 0
}

// compareParam compares the JSON value v with the query value s read as v's
// type. ok is false when s cannot be read so or v is not a scalar.
func compareParam(v any, s string) (c int, ok bool) {
	switch t := v.(type) {
	case string:
		return strings.Compare(t, s), true
	case json.Number:
		a, err1 := t.Float64()
		b, err2 := strconv.ParseFloat(s, 64)
		if err1 != nil || err2 != nil {
			return 0, false
		}
		return cmp.Compare(a, b), true
	case bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return 0, false
		}
		return compareBools(t, b), true
	}
	return 0, false
}

// compareBools orders false before true.
func compareBools(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

// compareOrder compares two entities by the order keys. Missing values sort
// last whatever the direction.
func compareOrder(a, b *entity, keys []orderKey) int {
	for _, k := range keys {
		va, vb := values(a.doc, k.path), values(b.doc, k.path)
		switch {
		case len(va) == 0 && len(vb) == 0:
			continue
		case len(va) == 0:
			return 1
		case len(vb) == 0:
			return -1
		}
		c := compareValues(va[0], vb[0])
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// compareValues orders JSON scalars: numbers numerically, strings
// lexicographically (so ISO 8601 dates in one format sort in time order),
// booleans false first. Values of different kinds order numbers, strings,
// booleans, then anything else.
func compareValues(a, b any) int {
	ra, rb := kindRank(a), kindRank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch x := a.(type) {
	case json.Number:
		fa, _ := x.Float64()
		fb, _ := b.(json.Number).Float64()
		return cmp.Compare(fa, fb)
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		return compareBools(x, b.(bool))
	}
	return 0
}

// kindRank orders the kinds of JSON values for compareValues.
func kindRank(v any) int {
	switch v.(type) {
	case json.Number:
		return 0
	case string:
		return 1
	case bool:
		return 2
	}
	return 3
}
