package handlers

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/folio-cms/folio/cache"
	"github.com/gin-gonic/gin"
)

// Snapshots gives the content routes the snapshot to serve.
type Snapshots interface {
	Load() *cache.Snapshot
}

// CacheControl lets browsers and CDNs reuse an answer briefly and revalidate
// in the background: content changes at the editor's pace, and a 304 costs
// folio almost nothing.
const CacheControl = "public, max-age=30, stale-while-revalidate=300"

// Header values shared by every content answer; len == cap (see cache.Variant).
var (
	hdrJSON         = []string{"application/json; charset=utf-8"}[:1:1]
	hdrCacheControl = []string{CacheControl}[:1:1]
	hdrNoSniff      = []string{"nosniff"}[:1:1]
)

// Content serves GET and HEAD for /cv, /blog and /blog/{slug} from the
// current snapshot: no I/O, no encoding, no allocation of its own.
type Content struct {
	store Snapshots
	cors  *CORS
	vary  []string
}

// NewContent returns the content handlers over store, answering cross-origin
// reads as cors allows.
func NewContent(store Snapshots, cors *CORS) *Content {
	vary := "Accept-Encoding"
	if cors.varies() {
		vary += ", Origin"
	}
	return &Content{store: store, cors: cors, vary: []string{vary}[:1:1]}
}

// Serve answers GET and HEAD of /cv, /blog (paged: /blog?page=N, 1-based;
// other query parameters are ignored, as a cache buster would be) and
// /blog/{slug} through gin: the error answers, and every answer a request
// gets when the router's direct path has not taken it.
func (h *Content) Serve(c *gin.Context) {
	r, e := h.find(c.Request.URL.Path, c.Request.URL.RawQuery)
	if e == nil {
		_, e = h.serve(c.Writer, c.Request, r)
	}
	if e != nil {
		fail(c, e)
	}
}

// ServeDirect gives every answer on a content path its CORS and Vary
// headers, whatever the method and outcome (a browser hides an answer
// without them from the page, errors included), then answers a GET or
// HEAD with the content (200 or 304) without gin, and reports whether it
// did. Other methods and paths, and the error answers, it leaves to gin
// (Serve, Preflight, the router's 404 and 405), so that each has one
// implementation. A panic clears the content's headers and hands the
// request to gin, whose recovery logs it and answers 500 as on every
// route; the answer depends on the snapshot only, so it panics there
// again.
func (h *Content) ServeDirect(w http.ResponseWriter, req *http.Request) (served bool) {
	return h.serveDirect(w, req) != 0
}

// serveDirect is ServeDirect returning the status it answered (200 or
// 304), or 0 when it left the request to gin.
func (h *Content) serveDirect(w http.ResponseWriter, req *http.Request) (code int) {
	if !contentPath(req.URL.Path) {
		return 0
	}
	hdr := w.Header()
	h.routeHeaders(hdr, req)
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return 0
	}
	defer func() {
		if recover() != nil {
			clear(hdr)
			h.routeHeaders(hdr, req)
			code = 0
		}
	}()
	r, e := h.find(req.URL.Path, req.URL.RawQuery)
	if e != nil {
		return 0
	}
	code, e = h.serve(w, req, r)
	if e != nil {
		return 0
	}
	return code
}

// routeHeaders are the headers of every answer on a content route.
func (h *Content) routeHeaders(hdr http.Header, req *http.Request) {
	hdr["Vary"] = h.vary
	h.cors.apply(hdr, req.Header["Origin"])
}

// contentPath reports whether path is one of the content routes: /cv, /blog
// or anything under /blog/ (a slug may hold '/', sent as is or as %2F:
// URL.Path has it decoded either way).
func contentPath(path string) bool {
	return path == "/cv" || path == "/blog" || strings.HasPrefix(path, "/blog/")
}

// find returns the resource a content path and query name in the current
// snapshot, or the error to answer.
func (h *Content) find(urlPath, rawQuery string) (*cache.Resource, *Error) {
	s := h.store.Load()
	if !s.Ready() {
		return nil, errNotReady
	}
	switch urlPath {
	case "/cv":
		return s.CV.Root, nil
	case "/blog":
		n, ok := page(rawQuery)
		switch {
		case !ok:
			return nil, errPageInvalid
		case n > len(s.Blog.Pages):
			return nil, errNoPage
		}
		return s.Blog.Pages[n-1], nil
	}
	slug := strings.TrimPrefix(urlPath, "/blog/")
	if r, ok := s.Blog.Posts[slug]; ok {
		return r, nil
	}
	if slug == "" {
		return nil, errBlogSlash
	}
	// A post's path off by a trailing or doubled slash or a dot segment
	// names the post, as the other routes' 404s do (no slug has such a
	// segment: cache.SlugProblem).
	if clean := path.Clean("/" + slug)[1:]; clean != slug && s.Blog.Posts[clean] != nil {
		return nil, notFound("/blog/" + clean)
	}
	return nil, errNoPost
}

var (
	errPageInvalid = &Error{Status: http.StatusBadRequest, Code: "page_invalid", Message: "page must be a whole number from 1"}
	errNoPage      = &Error{Status: http.StatusNotFound, Code: "page_not_found", Message: "the blog has fewer pages; see \"pages\" on /blog"}
)

// maxPage is more pages than any blog has (1,000,000 posts of one a page).
const maxPage = 1_000_000

// page reads the page parameter of a raw query string: 1 when absent, ok
// false when it is not a whole number from 1. It does not allocate, but
// for a query holding percent-escapes ("page=%31", "p%61ge=2"), which it
// decodes as a form would (url.ParseQuery) before reading it again.
func page(rawQuery string) (n int, ok bool) {
	if strings.IndexByte(rawQuery, '%') >= 0 || strings.IndexByte(rawQuery, '+') >= 0 {
		v, err := url.ParseQuery(rawQuery)
		if err != nil {
			return 0, false
		}
		vals, present := v["page"]
		if !present {
			return 1, true
		}
		if len(vals[0]) == 0 || strings.ContainsAny(vals[0], "%&=+") {
			return 0, false
		}
		return page("page=" + vals[0])
	}
	for q := rawQuery; q != ""; {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		key, value, _ := strings.Cut(pair, "=")
		if key != "page" {
			continue
		}
		if value == "" {
			return 0, false
		}
		for _, d := range []byte(value) {
			if d < '0' || d > '9' {
				return 0, false
			}
			n = min(n*10+int(d-'0'), maxPage) // past any blog's last page
		}
		return n, n >= 1
	}
	return 1, true
}

var (
	errNoPost    = &Error{Status: http.StatusNotFound, Code: "post_not_found", Message: "no blog post has that slug"}
	errBlogSlash = notFound("/blog")
)

// serve writes one resource and returns its status: conditional requests
// answer 304 (or fail with 412, written by the caller: nothing is written
// then), the best encoding the client accepts is chosen, HEAD gets the
// headers only.
func (h *Content) serve(w http.ResponseWriter, req *http.Request, r *cache.Resource) (int, *Error) {
	cond := evaluate(req.Header, r)
	if cond == preconditionFailed {
		return 0, errPrecondition
	}
	hdr := w.Header()
	hdr["Content-Type"] = hdrJSON
	hdr["Cache-Control"] = hdrCacheControl
	hdr["Last-Modified"] = r.LastModified()
	hdr["X-Content-Type-Options"] = hdrNoSniff
	v := r.Variant(negotiate(req.Header["Accept-Encoding"]))
	hdr["Etag"] = v.ETag
	if cond == notModified {
		w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified, nil
	}
	hdr["Content-Length"] = v.ContentLength
	if v.ContentEncoding != nil {
		hdr["Content-Encoding"] = v.ContentEncoding
	}
	w.WriteHeader(http.StatusOK)
	if req.Method != http.MethodHead {
		v.WriteTo(w) // an identity not held is inflated on the way (cache/identity.go)
	}
	return http.StatusOK, nil
}

// commonAcceptEncodings are Accept-Encoding values that browsers, CDNs and
// load tools send verbatim; their choice is worked out once, here, by
// negotiate itself, so that a request only compares strings.
var commonAcceptEncodings = func() (t [6]struct {
	value string
	enc   cache.Encoding
}) {
	for i, v := range []string{"gzip", "gzip, deflate", "gzip, deflate, br", "gzip, deflate, br, zstd", "br", "br, gzip"} {
		t[i].value, t[i].enc = v, parseAcceptEncoding([]string{v})
	}
	return t
}()

// negotiate picks brotli, then gzip, then identity from Accept-Encoding
// values, honouring q=0 refusals and "*". It does not allocate.
func negotiate(values []string) cache.Encoding {
	if len(values) == 1 {
		for _, c := range &commonAcceptEncodings {
			if values[0] == c.value {
				return c.enc
			}
		}
	}
	return parseAcceptEncoding(values)
}

// parseAcceptEncoding is negotiate for any Accept-Encoding values.
func parseAcceptEncoding(values []string) cache.Encoding {
	br, gz, star := -1, -1, -1 // -1 unspecified, 0 refused, 1 accepted
	for _, v := range values {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			name, params, _ := strings.Cut(item, ";")
			// OWS only (RFC 9110 §5.6.3): "\u0085br" does not name br.
			name = strings.Trim(name, " \t")
			ok := 1
			if refused(params) {
				ok = 0
			}
			switch {
			case strings.EqualFold(name, "br"):
				br = ok
			case strings.EqualFold(name, "gzip"), strings.EqualFold(name, "x-gzip"):
				gz = ok
			case name == "*":
				star = ok
			}
		}
	}
	switch {
	case br == 1 || (br == -1 && star == 1):
		return cache.Brotli
	case gz == 1 || (gz == -1 && star == 1):
		return cache.Gzip
	}
	return cache.Identity
}

// refused reports a q parameter of zero ("q=0", "q=0.0", "q=0.000").
func refused(params string) bool {
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		p = strings.TrimSpace(p)
		if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' {
			continue
		}
		q := strings.TrimSpace(p[2:])
		if q == "" || q[0] != '0' {
			return false
		}
		return strings.Trim(q[1:], ".0") == ""
	}
	return false
}
