package cache

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// A resource whose gzip form is not smaller than its identity (tiny or
// incompressible bodies) holds its identity, serves it for every coding,
// and keeps no gzip bytes that nothing serves.
func TestIncompressibleResourceHoldsIdentityOnly(t *testing.T) {
	random := make([]byte, 8192)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for name, body := range map[string][]byte{"tiny": []byte(`{"a":1}`), "random": random, "empty": {}} {
		built, err := NewResources(t.Context(), []ResourceInput{{Body: body}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []*Resource{NewResource(body, time.Time{}), built[0]} {
			id := r.Variant(Identity)
			if r.Variant(Gzip) != id || !bytes.Equal(id.Body, body) || id.gz != nil {
				t.Errorf("%s: gzip variant is identity %v, identity held %v, gzip bytes kept %d", name,
					r.Variant(Gzip) == id, bytes.Equal(id.Body, body), len(id.gz))
			}
			if r.Held() != len(body)+len(r.Variant(Brotli).Body)*btoi(r.Variant(Brotli) != id) {
				t.Errorf("%s: holds %d bytes", name, r.Held())
			}
			var out bytes.Buffer
			if _, err := r.Variant(Gzip).WriteTo(&out); err != nil || !bytes.Equal(out.Bytes(), body) {
				t.Errorf("%s: the identity written is not the body (%v)", name, err)
			}
			b, err := UnmarshalBlob(r.Hash(), r.MarshalBlob())
			if err != nil || b.(*Resource).Variant(Identity).gz != nil || !bytes.Equal(b.(*Resource).Body(), body) {
				t.Errorf("%s: stored and loaded: %v", name, err)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cutWriter takes n bytes, then fails: a client that goes mid-body.
type cutWriter struct {
	n   int
	out bytes.Buffer
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		w.out.Write(p[:w.n])
		k := w.n
		w.n = 0
		return k, io.ErrClosedPipe
	}
	w.n -= len(p)
	return w.out.Write(p)
}

// An inflation cut short by its writer leaves the pooled inflater fit for
// the next answer, of this resource or another.
func TestInflaterAfterAWriterFails(t *testing.T) {
	a := NewResource([]byte(`{"a":"`+strings.Repeat("first document ", 20_000)+`"}`), time.Time{})
	b := NewResource([]byte(`{"b":"`+strings.Repeat("the second one ", 30_000)+`"}`), time.Time{})
	for i := range 50 {
		w := &cutWriter{n: 1000 + i*997}
		if n, err := a.Variant(Identity).WriteTo(w); !errors.Is(err, io.ErrClosedPipe) || int(n) != w.out.Len() {
			t.Fatalf("a cut write: %d, %v (%d bytes taken)", n, err, w.out.Len())
		}
		for _, r := range []*Resource{a, b} {
			var out bytes.Buffer
			if n, err := r.Variant(Identity).WriteTo(&out); err != nil || int(n) != r.Size() || !bytes.Equal(out.Bytes(), r.Body()) {
				t.Fatalf("after a cut write: %d bytes, %v", n, err)
			}
		}
	}
}

// A CV build whose bytes did not change keeps the resource it replaces,
// compared by hash as NewResources compares: its identity is not
// inflated for the comparison.
func TestUnchangedCVIsComparedWithoutInflating(t *testing.T) {
	body := []byte(`{"profile":"` + strings.Repeat("unchanged ", 100) + `"}`)
	was := newResource(nameOf(body), len(body), nil, []byte("gzip bytes never read"), nil, time.Time{})
	if got := resource(was, body, time.Time{}, false); got != was {
		t.Error("an unchanged CV was compressed again")
	}
}
