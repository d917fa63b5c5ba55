package handlers

import (
	"net/http"
	"strings"

	"github.com/folio-cms/folio/cache"
)

// notModified applies RFC 9110 §13.2.2 to a GET or HEAD of r (the content
// routes answer nothing else, and their errors are decided before:
// preconditions apply to what would be a 200 only):
//
//   - If-None-Match, unless blank, decides alone: it names a
//     representation of r under weak comparison, or is "*" → 304.
//   - Else If-Modified-Since, one line holding a valid HTTP-date not later
//     than now: r has not changed since → 304.
//
// If-Match and If-Unmodified-Since (steps 1 and 2, answering 412) and
// If-Range (step 5) are not evaluated: they guard state changes against
// lost updates and keep range requests consistent (RFC 9110 §13.1.1,
// §13.1.4, §13.1.5), and the content routes change nothing and serve no
// ranges, so the answer is what the request gets without them (and every
// read is spared two more header lookups). It does not allocate when no
// field is present or the client echoes folio's own validators.
func notModified(h http.Header, r *cache.Resource) bool {
	if inm := h["If-None-Match"]; present(inm) {
		for _, v := range inm {
			if r.MatchesETag(v) {
				return true
			}
		}
		return false
	}
	ims := h["If-Modified-Since"]
	return len(ims) == 1 && r.NotModifiedSince(ims[0])
}

// present reports whether a list field has a value other than blanks
// (net/textproto trims the values it reads: a blank one is "").
func present(values []string) bool {
	for _, v := range values {
		if v != "" && (v[0] != ' ' && v[0] != '\t' || strings.Trim(v, " \t") != "") {
			return true
		}
	}
	return false
}
