package handlers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
)

// RFC 9110 §13 against the content routes, case by case. An
// If-Modified-Since in the future answered 304 before (§13.1.3: ignore it).
func TestConditionalRequests(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	h := newTestRouter(store)
	cv := store.Load().CV.Root
	own, gz := cv.ETag(), cv.Variant(cache.Gzip).ETag[0]
	if own == gz {
		t.Fatal("the CV must have a gzip form for this test")
	}
	weak := "W/" + own
	lm := cv.ModTime()
	date := func(t time.Time) string { return t.UTC().Format(http.TimeFormat) }
	for _, c := range []struct {
		name   string
		header []string // pairs; a name twice makes two field lines
		code   int
	}{
		{"no condition", nil, 200},
		{"If-None-Match: own tag", []string{"If-None-Match", own}, 304},
		{"If-None-Match: weak form of own tag", []string{"If-None-Match", weak}, 304},
		{"If-None-Match: list", []string{"If-None-Match", `"a", W/"b", ` + own}, 304},
		{"If-None-Match: two lines", []string{"If-None-Match", `"a"`, "If-None-Match", own}, 304},
		{"If-None-Match: *", []string{"If-None-Match", "*"}, 304},
		{"If-None-Match: * in a list is malformed", []string{"If-None-Match", `"a", *`}, 200},
		{"If-None-Match: stale", []string{"If-None-Match", `"stale"`}, 200},
		{"If-None-Match: the gzip form's tag", []string{"If-None-Match", gz}, 304},
		{"If-None-Match blank: ignored", []string{"If-None-Match", " ", "If-Modified-Since", date(lm)}, 304},
		{"If-None-Match wins over If-Modified-Since", []string{"If-None-Match", `"stale"`, "If-Modified-Since", date(lm)}, 200},
		{"If-Modified-Since: Last-Modified", []string{"If-Modified-Since", date(lm)}, 304},
		{"If-Modified-Since: earlier", []string{"If-Modified-Since", date(lm.Add(-time.Second))}, 200},
		{"If-Modified-Since: in the future", []string{"If-Modified-Since", date(time.Now().Add(time.Hour))}, 200},
		{"If-Modified-Since: far future", []string{"If-Modified-Since", "Fri, 31 Dec 9999 23:59:59 GMT"}, 200},
		{"If-Modified-Since: invalid", []string{"If-Modified-Since", "yesterday"}, 200},
		{"If-Modified-Since: two lines", []string{"If-Modified-Since", date(lm), "If-Modified-Since", date(lm)}, 200},
		{"If-Modified-Since: RFC 850 form", []string{"If-Modified-Since", lm.UTC().Format(time.RFC850)}, 304},
		{"If-Modified-Since: asctime form", []string{"If-Modified-Since", lm.UTC().Format(time.ANSIC)}, 304},
		{"If-Match: own tag", []string{"If-Match", own}, 200},
		{"If-Match: the gzip form's tag", []string{"If-Match", gz}, 200},
		{"If-Match: *", []string{"If-Match", "*"}, 200},
		{"If-Match: weak is never a strong match", []string{"If-Match", weak}, 412},
		{"If-Match: stale", []string{"If-Match", `"stale"`}, 412},
		{"If-Match before If-None-Match", []string{"If-Match", `"stale"`, "If-None-Match", own}, 412},
		{"If-Match holds, If-None-Match matches", []string{"If-Match", own, "If-None-Match", own}, 304},
		{"If-Unmodified-Since: earlier", []string{"If-Unmodified-Since", date(lm.Add(-time.Second))}, 412},
		{"If-Unmodified-Since: Last-Modified", []string{"If-Unmodified-Since", date(lm)}, 200},
		{"If-Unmodified-Since: invalid", []string{"If-Unmodified-Since", "soon"}, 200},
		{"If-Unmodified-Since ignored with If-Match", []string{"If-Match", own, "If-Unmodified-Since", date(lm.Add(-time.Second))}, 200},
		{"If-Unmodified-Since holds, If-None-Match matches", []string{"If-Unmodified-Since", date(lm), "If-None-Match", own}, 304},
		{"Range and If-Range are ignored", []string{"Range", "bytes=0-9", "If-Range", own}, 200},
	} {
		for _, method := range []string{"GET", "HEAD"} {
			req := httptest.NewRequest(method, "/cv", nil)
			for i := 0; i+1 < len(c.header); i += 2 {
				req.Header.Add(c.header[i], c.header[i+1])
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != c.code {
				t.Errorf("%s %s: %d, want %d", method, c.name, w.Code, c.code)
				continue
			}
			switch c.code {
			case 304:
				if w.Body.Len() != 0 || w.Header().Get("Etag") != own || w.Header().Get("Cache-Control") != CacheControl ||
					w.Header().Get("Vary") == "" || w.Header().Get("Content-Length") != "" {
					t.Errorf("%s %s: 304 with body %d, headers %v", method, c.name, w.Body.Len(), w.Header())
				}
			case 200:
				if w.Header().Get("Content-Range") != "" || method == "GET" && w.Body.Len() != cv.Size() {
					t.Errorf("%s %s: not the whole body (%d of %d bytes)", method, c.name, w.Body.Len(), cv.Size())
				}
			case 412:
				if method == "GET" && errorCode(t, w) != "precondition_failed" {
					t.Errorf("%s %s: %s", method, c.name, w.Body.String())
				}
			}
		}
	}
}

// Preconditions apply to an answer that would be 2xx: an error stays
// the error (RFC 9110 §13.2.1).
func TestConditionsDoNotMaskErrors(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	h := newTestRouter(store)
	for path, code := range map[string]int{"/blog/no-such-post": 404, "/blog?page=9": 404, "/blog?page=x": 400} {
		for _, cond := range [][]string{{"If-Match", `"stale"`}, {"If-None-Match", "*"}, {"If-Unmodified-Since", "Mon, 01 Jan 2001 00:00:00 GMT"}} {
			if w := do(h, "GET", path, cond...); w.Code != code {
				t.Errorf("GET %s with %s: %d, want %d", path, cond[0], w.Code, code)
			}
		}
	}
	if w := do(newTestRouter(&cache.Store{}), "GET", "/cv", "If-None-Match", "*"); w.Code != 503 {
		t.Errorf("before the first load, If-None-Match: * got %d", w.Code)
	}
}

// The content path's conditional handling allocates nothing when the
// client echoes folio's validators, and nothing for an unconditional GET.
func TestConditionalPathDoesNotAllocate(t *testing.T) {
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	cv := store.Load().CV.Root
	for _, header := range []http.Header{
		{},
		{"If-None-Match": {cv.ETag()}},
		{"If-Modified-Since": cv.LastModified()},
		{"If-Match": {cv.ETag()}, "If-None-Match": {`"a", ` + cv.ETag()}},
	} {
		if n := testing.AllocsPerRun(100, func() { evaluate(header, cv) }); n != 0 {
			t.Errorf("evaluate(%v) allocates %.0f times", header, n)
		}
	}
	if strings.Contains(errPrecondition.Message, "\n") {
		t.Fatal("one sentence")
	}
}
