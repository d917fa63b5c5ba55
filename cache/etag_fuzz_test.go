package cache_test

import (
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
)

// FuzzMatchesETag checks If-None-Match against a reference written here
// from RFC 9110 (§13.1.2, §8.8.3, §5.6.1):
//
//	If-None-Match = "*" / #entity-tag
//	entity-tag    = [ "W/" ] DQUOTE *etagc DQUOTE   ; etagc: %x21 / %x23-7E / obs-text
//
// compared weakly (W/"x" matches "x") against the tags of the resource's
// representations. A field of that grammar must match exactly when the
// reference does. A field outside it may be ignored (no match) or read up
// to the first fault, but never matches on more than the elements before
// that fault. Nothing panics or loops.
//
// In the input, {id}, {gz} and {br} stand for the resource's own tags'
// opaque values (identity, gzip, brotli), so the seeds keep naming them
// whatever the hashing.
func FuzzMatchesETag(f *testing.F) {
	for _, s := range []string{
		`"{id}"`, `W/"{gz}"`, `"{br}"`, `*`, ` * `, `"x", "{gz}"`, `"x",W/"y" , "{br}"`, `,,"{id}",`,
		`"{id}"x`, `"x", *`, `*, "x"`, `w/"{id}"`, `"{id}`, `{id}`, `"a,b", "{id}"`, `"{id}-gz"`, `"{id}" "x"`,
		`"x" garbage, "{id}"`, "\t\"{br}\"\t", `W/"{id}", W/`, `""`, `"{id}"; q=1`, "\"\x80\", \"{id}\"",
	} {
		f.Add(s)
	}
	r := cache.NewResource([]byte(strings.Repeat(`{"title":"a post","body":"words and more words"}`, 20)), time.Unix(1_700_000_000, 0))
	var own []string
	for _, e := range []cache.Encoding{cache.Identity, cache.Gzip, cache.Brotli} {
		own = append(own, strings.Trim(r.Variant(e).ETag[0], `"`))
	}
	if len(own[0]) == 0 || own[0] == own[1] || own[0] == own[2] {
		f.Fatalf("the fixture's tags are not three: %q", own)
	}
	f.Fuzz(func(t *testing.T, field string) {
		field = strings.NewReplacer("{id}", own[0], "{gz}", own[1], "{br}", own[2]).Replace(field)
		got := r.MatchesETag(field)
		want, valid, prefix := refIfNoneMatch(field, own)
		if valid && got != want {
			t.Fatalf("If-None-Match %q: MatchesETag %v, RFC 9110 %v", field, got, want)
		}
		if !valid && got && !prefix {
			t.Fatalf("If-None-Match %q (not of RFC 9110's grammar) matched on more than the elements before the fault", field)
		}
	})
}

// refIfNoneMatch evaluates an If-None-Match field: match says whether it
// names "*" or, weakly, one of own; valid whether it is of the grammar;
// prefix whether the elements before the first fault of structure (a
// missing quote or comma, "*" in a list) match. A quoted tag holding a
// character outside etagc is invalid but not a fault of structure: it
// matches nothing and the list goes on.
func refIfNoneMatch(field string, own []string) (match, valid, prefix bool) {
	ows := func(s string) string { return strings.TrimLeft(s, " \t") }
	s := strings.Trim(field, " \t")
	if s == "*" {
		return true, true, true
	}
	valid = true
	for {
		// Empty list elements are allowed (§5.6.1).
		for s = ows(s); strings.HasPrefix(s, ","); s = ows(s[1:]) {
		}
		if s == "" {
			return match && valid, valid, match
		}
		s = strings.TrimPrefix(s, "W/")
		if !strings.HasPrefix(s, `"`) {
			return false, false, match
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return false, false, match
		}
		tag := s[1 : 1+end]
		for _, c := range []byte(tag) {
			if c < 0x21 || c == 0x7f {
				valid = false
			}
		}
		for _, o := range own {
			if tag == o {
				match = true
			}
		}
		s = ows(s[end+2:])
		if s != "" && s[0] != ',' {
			return false, false, match
		}
	}
}
