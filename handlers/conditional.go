package handlers

import (
	"net/http"
	"strings"

	"github.com/folio-cms/folio/cache"
)

// precondition is what a request's conditional header fields decide for a
// content answer.
type precondition uint8

const (
	proceed            precondition = iota // 200 with the content
	notModified                            // 304
	preconditionFailed                     // 412
)

var errPrecondition = &Error{Status: http.StatusPreconditionFailed, Code: "precondition_failed",
	Message: "the content is not the version If-Match or If-Unmodified-Since names; fetch it again"}

// evaluate applies RFC 9110 §13.2.2 to a GET or HEAD of r (the content
// routes answer nothing else, and their errors are decided before:
// preconditions apply to a 2xx only):
//
//  1. If-Match, when present: it names no representation of r under
//     strong comparison (and is not "*") → 412.
//  2. Else If-Unmodified-Since, one valid HTTP-date: r changed after it → 412.
//  3. If-None-Match, when present, decides alone: it names a
//     representation of r under weak comparison, or is "*" → 304.
//  4. Else If-Modified-Since, one valid HTTP-date not later than now: r
//     has not changed since → 304.
//
// A date field with more than one line, an invalid date, or a blank field
// is ignored. Range and If-Range are not supported (answers are small), so
// they are ignored too: the answer is the whole body. It does not allocate
// when no field is present or the client echoes folio's own validators.
func evaluate(h http.Header, r *cache.Resource) precondition {
	if im := h["If-Match"]; present(im) {
		if !anyLine(im, r.MatchesStrongETag) {
			return preconditionFailed
		}
	} else if ius := h["If-Unmodified-Since"]; len(ius) == 1 {
		if t, err := http.ParseTime(ius[0]); err == nil && r.ModTime().After(t) {
			return preconditionFailed
		}
	}
	if inm := h["If-None-Match"]; present(inm) {
		if anyLine(inm, r.MatchesETag) {
			return notModified
		}
		return proceed
	}
	if ims := h["If-Modified-Since"]; len(ims) == 1 && r.NotModifiedSince(ims[0]) {
		return notModified
	}
	return proceed
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

// anyLine reports whether any line of a field satisfies match.
func anyLine(values []string, match func(string) bool) bool {
	for _, v := range values {
		if match(v) {
			return true
		}
	}
	return false
}
