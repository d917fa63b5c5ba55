package cache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

// oldBlob is a resource blob as folio wrote it before resources stopped
// holding their identity beside gzip: all three forms.
func oldBlob(identity, gz, br []byte) []byte {
	var b []byte
	for _, f := range [][]byte{identity, gz, br} {
		if f == nil {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(f))+1)
		b = append(b, f...)
	}
	return b
}

// A stored resource whose gzip form does not inflate to its identity is
// refused, old blobs that carry the identity included: the identity
// served is that gzip form inflated, so such a blob would serve a cut or
// other document under the identity's ETag and Content-Length. So is one
// whose brotli form does not decode to it (served to every browser).
func TestBlobWithCorruptGzipIsRefused(t *testing.T) {
	body := []byte(`{"x":"` + strings.Repeat("abc def ", 500) + `"}`)
	other := []byte(`{"y":"` + strings.Repeat("xyz uvw ", 500) + `"}`)
	r, o := NewResource(body, time.Time{}), NewResource(other, time.Time{})
	gz, br := r.Variant(Gzip).Body, r.Variant(Brotli).Body
	flipped := bytes.Clone(gz)
	flipped[len(flipped)/2] ^= 0x55
	cut := gz[:len(gz)-20]
	brFlipped := bytes.Clone(br)
	brFlipped[len(brFlipped)/2] ^= 0x55
	for name, blob := range map[string][]byte{
		"old, gzip flipped":         oldBlob(body, flipped, br),
		"old, gzip of another body": oldBlob(body, o.Variant(Gzip).Body, br),
		"old, gzip cut":             oldBlob(body, cut, br),
		"new, gzip flipped":         oldBlob(nil, flipped, br),
		"new, gzip of another body": oldBlob(nil, o.Variant(Gzip).Body, br),
		"identity flipped":          oldBlob(append(bytes.Clone(body[:10]), body[11:]...), gz, br),
		"new, brotli flipped":       oldBlob(nil, gz, brFlipped),
		"old, brotli flipped":       oldBlob(body, gz, brFlipped),
		"new, brotli of another":    oldBlob(nil, gz, o.Variant(Brotli).Body),
		"new, brotli cut":           oldBlob(nil, gz, br[:len(br)-3]),
	} {
		if _, err := UnmarshalBlob(r.Hash(), blob); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if b, err := UnmarshalBlob(r.Hash(), oldBlob(body, gz, br)); err != nil || !bytes.Equal(b.(*Resource).Body(), body) {
		t.Errorf("a whole old blob: %v", err)
	}
}

// A part stored whole (MarshalBinary: every resource inline) whose gzip
// form was damaged is refused too, read as a part or as a meta.
func TestInlinePartWithCorruptGzipIsRefused(t *testing.T) {
	p, _, err := BuildBlog(t.Context(), blogOf(t, postEntry("a", strings.Repeat("a long title ", 200))), nil, blogOpts)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := UnmarshalPart(b); err != nil {
		t.Fatalf("whole: %v", err)
	}
	gz := p.Posts["a"].Variant(Gzip).Body
	at := bytes.Index(b, gz)
	if at < 0 {
		t.Fatal("the gzip form is not inline")
	}
	b[at+len(gz)/2] ^= 0x55
	if _, err := UnmarshalPart(b); !errors.Is(err, ErrCorrupt) {
		t.Errorf("UnmarshalPart: %v, want ErrCorrupt", err)
	}
	m, err := UnmarshalMeta(b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Part(func(string) Blob { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Meta.Part: %v, want ErrCorrupt", err)
	}
}
