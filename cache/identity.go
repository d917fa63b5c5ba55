package cache

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"sync"
)

// A resource holds its identity bytes only when no gzip form pays off
// (small documents). Otherwise the identity is the gzip form inflated on
// the way out: almost every client accepts gzip or brotli (browsers,
// Node's fetch, Go's and Python's HTTP clients, every CDN), and holding
// the JSON a third time would be most of folio's memory (at 10,000 posts
// of 20 KB, 200 MB of the 280 MB served). Varnish does the same with the
// gzip objects it stores, for clients that do not accept gzip. An identity
// answer costs about 9 µs for 2 KB and 45 µs for 20 KB of blog-like JSON
// (BenchmarkIdentityAnswer); the inflaters are pooled, and what it
// allocates is compress/flate's Huffman link tables, about a dozen small
// slices an answer.

// inflater is a pooled gzip reader with its source and copy buffer.
type inflater struct {
	src bytes.Reader
	zr  gzip.Reader
	in  inflating
	out onlyWriter
	buf [16 << 10]byte
}

// inflating reads the gzip reader, keeping its error apart from the
// writer's; it hides WriteTo, so io.CopyBuffer uses the pooled buffer.
type inflating struct {
	zr  *gzip.Reader
	err error
}

func (r *inflating) Read(p []byte) (int, error) {
	n, err := r.zr.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
	}
	return n, err
}

var inflaters = sync.Pool{New: func() any { return new(inflater) }}

// WriteTo writes the variant's bytes to w: Body, or the identity inflated
// from the gzip form when the resource does not hold it. It returns the
// bytes written and w's error (or ErrCorrupt for gzip bytes that do not
// inflate, which a resource built or loaded here never holds).
func (v *Variant) WriteTo(w io.Writer) (int64, error) {
	if v.Body != nil || v.gz == nil {
		n, err := w.Write(v.Body)
		return int64(n), err
	}
	f := inflaters.Get().(*inflater)
	defer inflaters.Put(f)
	f.src.Reset(v.gz)
	if err := f.zr.Reset(&f.src); err != nil {
		return 0, fmt.Errorf("%w: gzip form: %v", ErrCorrupt, err)
	}
	f.zr.Multistream(false)
	f.in, f.out = inflating{zr: &f.zr}, onlyWriter{w}
	n, err := io.CopyBuffer(&f.out, &f.in, f.buf[:])
	if f.in.err != nil {
		err = fmt.Errorf("%w: gzip form: %v", ErrCorrupt, f.in.err)
	}
	f.in, f.out = inflating{}, onlyWriter{}
	return n, err
}

// onlyWriter hides ReadFrom (an http.ResponseWriter's would take a buffer
// of its own).
type onlyWriter struct{ io.Writer }

// inflateAll returns the gzip bytes inflated, checking they inflate to
// exactly size bytes when size ≥ 0.
func inflateAll(gz []byte, size int) ([]byte, error) {
	var out bytes.Buffer
	out.Grow(max(size, 0))
	v := Variant{gz: gz}
	if _, err := v.WriteTo(&out); err != nil {
		return nil, err
	}
	if size >= 0 && out.Len() != size {
		return nil, fmt.Errorf("%w: gzip form inflates to %d bytes, want %d", ErrCorrupt, out.Len(), size)
	}
	return out.Bytes(), nil
}
