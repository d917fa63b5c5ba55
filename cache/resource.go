// Package cache holds folio's served content: immutable snapshots of
// pre-serialised, pre-compressed JSON, and the Store that swaps them whole.
//
// Everything a response needs is computed when a snapshot is built, once per
// refresh: the JSON's gzip and brotli forms, strong ETags, the Last-Modified
// date and even the header value slices. The request path only picks a
// variant and writes its bytes. Each document is held once, compressed: the
// rare client that accepts no coding gets the gzip form inflated on the way
// (identity.go).
package cache

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Encoding is a content coding folio serves.
type Encoding uint8

// The codings, in the order of preference when a client accepts several.
const (
	Identity Encoding = iota
	Gzip
	Brotli
	numEncodings
)

// minCompressSize: below this, compression saves less than its header costs.
const minCompressSize = 256

// Variant is one representation of a resource: its bytes and the header
// values that describe them. The slices are shared by every response and must
// never be modified; they are built with len == cap so that an append by a
// middleware copies instead of writing into them.
type Variant struct {
	// Body is the representation's bytes; nil for an identity the
	// resource does not hold (write it with WriteTo).
	Body            []byte
	ETag            []string // strong ETag of exactly these bytes
	ContentLength   []string
	ContentEncoding []string // nil for identity
	// gz is the gzip form an identity not held is inflated from.
	gz []byte
}

// Resource is one served document (/cv, /blog or one post) in every encoding.
type Resource struct {
	hash         string // hex of the identity bytes' SHA-256 prefix: the ETag core
	size         int    // identity length in bytes
	variants     [numEncodings]*Variant
	lastModified time.Time
	lastModHdr   []string
}

// NewResource builds a resource from its JSON bytes, compressing them once
// at the levels compressLevels gives for their size (NewResources builds
// many on every core). modified is the Last-Modified instant (the latest
// updatedAt inside).
func NewResource(body []byte, modified time.Time) *Resource {
	var gz, br []byte
	if len(body) >= minCompressSize {
		level, quality := levelsFor(len(body))
		ctx := context.Background() // never ends: no error
		gz, _ = gzipBytes(ctx, body, level)
		br, _ = brotliBytes(ctx, body, quality)
	}
	return assemble(body, modified, gz, br)
}

// assemble builds a resource from its identity bytes and their gzip and
// brotli forms (nil when not made).
func assemble(body []byte, modified time.Time, gz, br []byte) *Resource {
	return newResource(nameOf(body), len(body), body, gz, br, modified)
}

// newResource holds a document's forms: gzip and brotli when smaller than
// the identity, the identity itself only when no gzip form is held (it is
// inflated from gzip otherwise: identity.go). hash and size are the
// identity's; body may be nil when gz holds it.
func newResource(hash string, size int, body, gz, br []byte, modified time.Time) *Resource {
	r := &Resource{hash: hash, size: size, lastModified: modified.UTC().Truncate(time.Second)}
	r.lastModHdr = one(r.lastModified.Format(http.TimeFormat))
	if gz != nil && len(gz) < size {
		r.variants[Gzip] = r.variant(gz, len(gz), "gzip", "-gz")
		body = nil
	} else {
		gz = nil // not served: the identity is held (an incompressible body)
	}
	r.variants[Identity] = r.variant(body, size, "", "")
	r.variants[Identity].gz = gz
	if br != nil && len(br) < size {
		r.variants[Brotli] = r.variant(br, len(br), "br", "-br")
	}
	return r
}

func (r *Resource) variant(body []byte, size int, coding, suffix string) *Variant {
	v := &Variant{
		Body:          body,
		ETag:          one(`"` + r.hash + suffix + `"`),
		ContentLength: one(strconv.Itoa(size)),
	}
	if coding != "" {
		v.ContentEncoding = one(coding)
	}
	return v
}

// one returns a single-value header slice with len == cap.
func one(s string) []string { return []string{s}[:1:1] }

// Variant returns the representation for an encoding, falling back to
// identity when that encoding did not pay off for this resource.
func (r *Resource) Variant(e Encoding) *Variant {
	if e < numEncodings {
		if v := r.variants[e]; v != nil {
			return v
		}
	}
	return r.variants[Identity]
}

// Body returns the identity JSON bytes: the bytes held, or a new copy
// inflated from the gzip form (nil if those bytes are corrupt, which a
// resource built or loaded here never is).
func (r *Resource) Body() []byte {
	v := r.variants[Identity]
	if v.Body != nil {
		return v.Body
	}
	b, _ := inflateAll(v.gz, r.size)
	return b
}

// Holds reports whether the resource's identity bytes are exactly body,
// without inflating anything.
func (r *Resource) Holds(body []byte) bool {
	if v := r.variants[Identity]; v.Body != nil {
		return string(v.Body) == string(body)
	}
	return r.size == len(body) && r.hash == nameOf(body)
}

// ETag returns the strong ETag of the identity bytes.
func (r *Resource) ETag() string { return r.variants[Identity].ETag[0] }

// LastModified returns the Last-Modified header value.
func (r *Resource) LastModified() []string { return r.lastModHdr }

// ModTime returns the Last-Modified instant.
func (r *Resource) ModTime() time.Time { return r.lastModified }

// Size returns the identity length in bytes.
func (r *Resource) Size() int { return r.size }

// Held returns the bytes the resource holds in memory: its forms, once.
func (r *Resource) Held() int {
	n := 0
	for _, v := range r.variants {
		if v != nil {
			n += len(v.Body)
		}
	}
	return n
}

// MatchesETag reports whether an If-None-Match value names any
// representation of this resource under weak comparison (RFC 9110
// §13.1.2): W/"x" matches "x", and "*" (alone) matches. Any representation, not
// only the one a request selects: they are one content in several
// codings, so a client holding it in one coding holds the current
// content. A malformed value matches nothing past its fault. It does not
// allocate.
func (r *Resource) MatchesETag(ifNoneMatch string) bool { return r.matches(ifNoneMatch, true) }

// MatchesStrongETag is MatchesETag for If-Match (RFC 9110 §13.1.1):
// strong comparison, so a W/ tag never matches.
func (r *Resource) MatchesStrongETag(ifMatch string) bool { return r.matches(ifMatch, false) }

func (r *Resource) matches(field string, weak bool) bool {
	s := strings.Trim(field, " \t")
	if s == "*" {
		return true
	}
	for len(s) > 0 {
		// Skip separators.
		for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == ',') {
			s = s[1:]
		}
		if len(s) == 0 {
			return false
		}
		if s[0] == '*' {
			return false // "*" is a whole field value, never a list element
		}
		isWeak := len(s) > 2 && s[0] == 'W' && s[1] == '/'
		if isWeak {
			s = s[2:]
		}
		if len(s) == 0 || s[0] != '"' {
			return false // malformed: no match rather than a guess
		}
		end := strings.IndexByte(s[1:], '"')
		if end < 0 {
			return false
		}
		if (weak || !isWeak) && r.isOwnTag(s[1:1+end]) {
			return true
		}
		s = strings.TrimLeft(s[end+2:], " \t")
		if len(s) > 0 && s[0] != ',' {
			return false // a tag runs into the next: malformed
		}
	}
	return false
}

func (r *Resource) isOwnTag(tag string) bool {
	if len(tag) < len(r.hash) || tag[:len(r.hash)] != r.hash {
		return false
	}
	switch tag[len(r.hash):] {
	case "", "-gz", "-br":
		return true
	}
	return false
}

// NotModifiedSince reports whether an If-Modified-Since value is a valid
// HTTP-date at or after this resource's Last-Modified and not later than
// now. A date later than the server's clock is invalid and ignored (RFC
// 9110 §13.1.3; RFC 2616 §14.25 said so in words): a 304 for it would let
// a client keep its copy however the content changed until then. The
// usual case (the client echoes our own value, which is never ahead of
// now: validators.go) is a string compare and does not allocate.
func (r *Resource) NotModifiedSince(ims string) bool {
	if ims == r.lastModHdr[0] {
		return true
	}
	t, err := http.ParseTime(ims)
	return err == nil && !r.lastModified.After(t) && !t.After(time.Now())
}

// withModTime returns a copy of r with another Last-Modified; the bytes and
// their header values are shared.
func (r *Resource) withModTime(t time.Time) *Resource {
	c := *r
	c.lastModified = t.UTC().Truncate(time.Second)
	c.lastModHdr = one(c.lastModified.Format(http.TimeFormat))
	return &c
}
