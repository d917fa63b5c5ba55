package cache

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/contentful"
)

// TestMetaAndBlobs: a part stored as a meta and blobs comes back with the
// same bytes, ETags and per-route dates; a part stored whole (the format
// before blobs) still loads; a blob with other bytes is refused.
func TestMetaAndBlobs(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	big := []byte(`{"x":"` + strings.Repeat("abc ", 200) + `"}`)
	p := &Part{Collection: Blog, Posts: map[string]*Resource{
		"a": NewResource(big, t0),
		"b": NewResource(big, t0.Add(time.Hour)), // same bytes, another date
		"c": NewResource([]byte(`{"c":1}`), t0),
	}, Pages: []*Resource{NewResource([]byte(`{"page":1}`), t0)}}
	p.Root = p.Pages[0]
	p.Entities = map[contentful.Ref]contentful.Entity{
		contentful.EntryRef("a"): {Revision: 3, CreatedAt: "2026-01-01T00:00:00Z", Raw: big},
		contentful.EntryRef("b"): contentful.Entity{Revision: 1, CreatedAt: "2026-01-02T00:00:00Z", Raw: big}.Pack(), // same JSON
		contentful.AssetRef("c"): {Revision: 2, CreatedAt: "2026-01-03T00:00:00Z", Raw: []byte(`{"c":1}`)},
	}
	meta, stored, err := p.Stored()
	if err != nil {
		t.Fatal(err)
	}
	res := p.Resources()
	if len(res) != 3 || len(stored) != 5 {
		t.Fatalf("%d distinct resources and %d blobs, want 3 and 5 (two entities share their JSON)", len(res), len(stored))
	}
	if bytes.Contains(meta, big[:100]) {
		t.Error("the meta carries bytes stored apart")
	}
	m, err := UnmarshalMeta(meta)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Blobs(); len(got) != 5 {
		t.Fatalf("blobs %v", got)
	}
	blobs := map[string]Blob{}
	for h, r := range stored {
		if blobs[h], err = UnmarshalBlob(h, r.MarshalBlob()); err != nil {
			t.Fatal(err)
		}
	}
	got, err := m.Part(func(h string) Blob { return blobs[h] })
	if err != nil {
		t.Fatal(err)
	}
	same := func(name string, g, w *Resource) {
		for e := range numEncodings {
			if !bytes.Equal(g.Variant(e).Body, w.Variant(e).Body) || g.Variant(e).ETag[0] != w.Variant(e).ETag[0] {
				t.Errorf("%s: encoding %d differs", name, e)
			}
		}
		if g.LastModified()[0] != w.LastModified()[0] {
			t.Errorf("%s: Last-Modified %s, want %s", name, g.LastModified()[0], w.LastModified()[0])
		}
	}
	for slug, w := range p.Posts {
		same(slug, got.Posts[slug], w)
	}
	same("root", got.Root, p.Root)
	for ref, w := range p.Entities {
		g := got.Entities[ref]
		gj, err := g.JSON()
		wj, _ := w.JSON()
		if err != nil || !bytes.Equal(gj, wj) || g.Revision != w.Revision || g.CreatedAt != w.CreatedAt || g.Hash() != w.Hash() {
			t.Errorf("entity %v: %+v (%v), want %+v", ref, g, err, w)
		}
	}
	if got.Root != got.Pages[0] {
		t.Error("the root is not the first page")
	}
	if _, err := m.Part(func(string) Blob { return nil }); err == nil {
		t.Error("a part assembled without its blobs")
	}
	for name := range stored {
		if _, err := m.Part(func(h string) Blob {
			if h == name {
				return nil
			}
			return blobs[h]
		}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("a part assembled without blob %s: %v", name, err)
		}
		if _, err := UnmarshalBlob(name, append(stored[name].MarshalBlob(), 0)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("blob %s with a byte more: %v", name, err)
		}
	}
	if _, err := UnmarshalBlob(p.Root.Hash(), res[p.Posts["c"].Hash()].MarshalBlob()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a blob of other bytes: %v", err)
	}
	if _, err := UnmarshalBlob(p.Root.Hash(), []byte{9}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a cut blob: %v", err)
	}

	whole, _ := p.MarshalBinary()
	m, err = UnmarshalMeta(whole)
	if err != nil || len(m.Blobs()) != 0 {
		t.Fatalf("a whole part: %v, blobs %v", err, m.Blobs())
	}
	old, err := m.Part(func(string) Blob { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for slug, w := range p.Posts {
		same(slug, old.Posts[slug], w)
	}
	if len(old.Entities) != len(p.Entities) {
		t.Errorf("a whole part: %d entities, want %d", len(old.Entities), len(p.Entities))
	}
}

// TestBlobNamesNeverMeet: a resource whose hash starts like an entity's
// blob name is still a resource (a hash is hex, and an early prefix "e"
// took resources whose hash began with e for entities).
func TestBlobNamesNeverMeet(t *testing.T) {
	for i := 0; ; i++ {
		r := NewResource(fmt.Appendf(nil, `{"n":%d}`, i), time.Time{})
		if !strings.HasPrefix(r.Hash(), "e") {
			continue
		}
		b, err := UnmarshalBlob(r.Hash(), r.MarshalBlob())
		if _, ok := b.(*Resource); err != nil || !ok {
			t.Fatalf("resource %s came back as %T, %v", r.Hash(), b, err)
		}
		return
	}
}

// TestBlobWithIdentity: a blob stored before resources stopped holding
// their identity beside gzip (all three forms) still loads, and the
// resource it gives holds the gzip form only.
func TestBlobWithIdentity(t *testing.T) {
	body := []byte(`{"x":"` + strings.Repeat("abc ", 500) + `"}`)
	r := NewResource(body, time.Time{})
	gz := r.Variant(Gzip).Body
	var old []byte
	old = binary.AppendUvarint(old, uint64(len(body))+1)
	old = append(old, body...)
	old = binary.AppendUvarint(old, uint64(len(gz))+1)
	old = append(old, gz...)
	old = binary.AppendUvarint(old, 0)
	b, err := UnmarshalBlob(r.Hash(), old)
	if err != nil {
		t.Fatal(err)
	}
	got := b.(*Resource)
	if got.Variant(Identity).Body != nil || !bytes.Equal(got.Body(), body) || got.Held() != len(gz) {
		t.Errorf("holds %d bytes, identity held %v", got.Held(), got.Variant(Identity).Body != nil)
	}
	if len(r.MarshalBlob()) >= len(old) {
		t.Error("the blob still carries the identity")
	}
}
