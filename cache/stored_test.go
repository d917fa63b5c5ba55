package cache

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
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
	meta, err := p.MarshalMeta()
	if err != nil {
		t.Fatal(err)
	}
	res := p.Resources()
	if len(res) != 3 {
		t.Fatalf("%d distinct resources, want 3", len(res))
	}
	m, err := UnmarshalMeta(meta)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Hashes(); len(got) != 3 {
		t.Fatalf("hashes %v", got)
	}
	blobs := map[string]*Resource{}
	for h, r := range res {
		if blobs[h], err = UnmarshalBlob(h, r.MarshalBlob()); err != nil {
			t.Fatal(err)
		}
	}
	got, err := m.Part(func(h string) *Resource { return blobs[h] })
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
	if got.Root != got.Pages[0] {
		t.Error("the root is not the first page")
	}
	if _, err := m.Part(func(string) *Resource { return nil }); err == nil {
		t.Error("a part assembled without its resources")
	}
	if _, err := UnmarshalBlob(p.Root.Hash(), res[p.Posts["c"].Hash()].MarshalBlob()); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a blob of other bytes: %v", err)
	}
	if _, err := UnmarshalBlob(p.Root.Hash(), []byte{9}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a cut blob: %v", err)
	}

	whole, _ := p.MarshalBinary()
	m, err = UnmarshalMeta(whole)
	if err != nil || len(m.Hashes()) != 0 {
		t.Fatalf("a whole part: %v, hashes %v", err, m.Hashes())
	}
	old, err := m.Part(func(string) *Resource { return nil })
	if err != nil {
		t.Fatal(err)
	}
	for slug, w := range p.Posts {
		same(slug, old.Posts[slug], w)
	}
}
