package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/folio-cms/folio/contentful"
)

// A part stored content-addressed is a small meta record (Stored: the
// part without its resources' bytes or its entities' JSON, each route
// naming its resource's hash and carrying its own Last-Modified, each
// entity its sys fields and the name of its JSON) and one blob per
// distinct resource (the identity, gzip and brotli bytes) and per entity
// (its packed JSON), so a change stores and loads only what it changed:
// at 10,000 posts the entities alone are about 30 MB, the meta well under
// one.

// Blob is what a part stores apart, under the name Stored gives it: a
// *Resource (its bytes in every encoding), or an entity's packed JSON.
type Blob interface {
	// MarshalBlob returns the bytes to store: UnmarshalBlob's input.
	MarshalBlob() []byte
	// Size bounds the stored bytes, to give a write time in proportion.
	Size() int
}

// entityBlob is an entity's packed JSON (contentful.Entity.Pack), stored
// under entityPrefix and the hex of its SHA-256 prefix.
type entityBlob []byte

func (b entityBlob) MarshalBlob() []byte { return b }
func (b entityBlob) Size() int           { return len(b) }

// entityPrefix starts the name of an entity's blob: a resource's name is
// bare hex, which never holds a colon, so the two never meet.
const entityPrefix = "entity:"

// entityWire is one entity of a part whose JSON is stored apart.
type entityWire struct {
	Revision  int
	CreatedAt string
	Sum       uint64
	Blob      string // the name of its packed JSON
}

// nameOf is the hex of the bytes' SHA-256 prefix (128 bits): a resource's
// ETag core and the name of a blob.
func nameOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// Hash returns the hex of the identity bytes' SHA-256 prefix: the ETag
// core, and the name of the resource's stored blob.
func (r *Resource) Hash() string { return r.hash }

// Resources indexes the part's distinct resources by hash.
func (p *Part) Resources() map[string]*Resource {
	m := make(map[string]*Resource, len(p.Posts)+len(p.Pages)+1)
	if p.Root != nil {
		m[p.Root.hash] = p.Root
	}
	for _, r := range p.Pages {
		m[r.hash] = r
	}
	for _, r := range p.Posts {
		m[r.hash] = r
	}
	return m
}

// Stored encodes the part for storage apart from its blobs: the meta
// record, and the blobs it names by name (every resource and every
// entity, each named by the SHA-256 of its bytes, so a blob stored once
// serves every version that holds the same bytes).
func (p *Part) Stored() ([]byte, map[string]Blob, error) {
	w := p.wire()
	blobs := make(map[string]Blob, len(p.Posts)+len(p.Pages)+len(p.Entities)+1)
	for h, r := range p.Resources() {
		blobs[h] = r
	}
	ref := func(r *Resource) resourceWire { return resourceWire{Hash: r.hash, Modified: r.lastModified} }
	for _, r := range p.Pages {
		w.Pages = append(w.Pages, ref(r))
	}
	if len(p.Pages) == 0 {
		w.Root = ref(p.Root)
	}
	if p.Posts != nil {
		w.Posts = make(map[string]resourceWire, len(p.Posts))
		for slug, r := range p.Posts {
			w.Posts[slug] = ref(r)
		}
	}
	w.Entities = nil
	w.Stored = make(map[contentful.Ref]entityWire, len(p.Entities))
	for ref, e := range p.Entities {
		e = e.Pack()
		name := entityPrefix + nameOf(e.Raw)
		blobs[name] = entityBlob(e.Raw)
		w.Stored[ref] = entityWire{Revision: e.Revision, CreatedAt: e.CreatedAt, Sum: e.Sum, Blob: name}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(w); err != nil {
		return nil, nil, fmt.Errorf("cache: encoding part %s: %w", p.Collection, err)
	}
	return buf.Bytes(), blobs, nil
}

// Meta is a stored part whose resources may be stored apart.
type Meta struct{ w partWire }

// UnmarshalMeta decodes the meta Stored wrote (or what MarshalBinary
// wrote, whose resources and entities are inline).
func UnmarshalMeta(b []byte) (*Meta, error) {
	var w partWire
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	whole := func(r resourceWire) bool { return r.Identity != nil || r.Hash != "" }
	if w.Collection != CV && w.Collection != Blog || !whole(w.Root) && (len(w.Pages) == 0 || !whole(w.Pages[0])) {
		return nil, fmt.Errorf("%w: no collection or no root", ErrCorrupt)
	}
	return &Meta{w: w}, nil
}

// Collection is the part's collection.
func (m *Meta) Collection() Collection { return m.w.Collection }

func (m *Meta) each(f func(resourceWire)) {
	if len(m.w.Pages) == 0 {
		f(m.w.Root)
	}
	for _, r := range m.w.Pages {
		f(r)
	}
	for _, r := range m.w.Posts {
		f(r)
	}
}

// Blobs returns, sorted, the distinct names of the blobs the part needs.
func (m *Meta) Blobs() []string {
	set := map[string]bool{}
	m.each(func(r resourceWire) {
		if r.Identity == nil && r.Hash != "" {
			set[r.Hash] = true
		}
	})
	for _, e := range m.w.Stored {
		set[e.Blob] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// Part assembles the part, taking each blob from get (nil when it is not
// at hand: an error) and dating each resource as its route.
func (m *Meta) Part(get func(name string) Blob) (*Part, error) {
	w := m.w
	var missing string
	var bad error
	res := func(rw resourceWire) *Resource {
		if rw.Identity != nil {
			r, err := restore(rw)
			if err != nil {
				bad = err
			}
			return r
		}
		r, _ := get(rw.Hash).(*Resource)
		if r == nil || r.hash != rw.Hash {
			missing = rw.Hash
			return nil
		}
		if t := rw.Modified.UTC(); !r.lastModified.Equal(t) {
			r = r.withModTime(t)
		}
		return r
	}
	if w.Stored != nil {
		w.Entities = make(map[contentful.Ref]contentful.Entity, len(w.Stored))
		for ref, e := range w.Stored {
			b, _ := get(e.Blob).(entityBlob)
			if b == nil {
				missing = e.Blob
				continue
			}
			w.Entities[ref] = contentful.Entity{Revision: e.Revision, CreatedAt: e.CreatedAt, Sum: e.Sum, Raw: b, Packed: true}
		}
	}
	p := w.part(res)
	if bad != nil {
		return nil, fmt.Errorf("cache: part %s: %w", w.Collection, bad)
	}
	if missing != "" {
		return nil, fmt.Errorf("cache: part %s: blob %s is not at hand", w.Collection, missing)
	}
	return p, nil
}

// MarshalBlob encodes the resource's bytes in every encoding it holds (not
// its date): for each of identity, gzip and brotli a uvarint of its length
// plus one (0: that form is not held; the identity is not when gzip is),
// then the bytes.
func (r *Resource) MarshalBlob() []byte {
	b := make([]byte, 0, 3*binary.MaxVarintLen64+r.Held())
	for _, v := range r.variants {
		if v == nil || v.Body == nil {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(v.Body))+1)
		b = append(b, v.Body...)
	}
	return b
}

// UnmarshalBlob rebuilds the blob stored under name from its bytes,
// checking they are the bytes the name names (ErrCorrupt otherwise). A
// resource's date is the zero time: Meta.Part dates it as its route.
func UnmarshalBlob(name string, b []byte) (Blob, error) {
	if h, ok := strings.CutPrefix(name, entityPrefix); ok {
		if nameOf(b) != h {
			return nil, fmt.Errorf("%w: entity stored as %s has other bytes", ErrCorrupt, name)
		}
		return entityBlob(b), nil
	}
	var forms [numEncodings][]byte
	for i := range forms {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k)+1 {
			return nil, fmt.Errorf("%w: resource %s is cut short", ErrCorrupt, name)
		}
		b = b[k:]
		if n > 0 {
			forms[i], b = b[:n-1:n-1], b[n-1:]
		}
	}
	if forms[Identity] == nil && forms[Gzip] == nil || len(b) != 0 {
		return nil, fmt.Errorf("%w: resource %s is malformed", ErrCorrupt, name)
	}
	// An older folio's blob holds the identity, and its gzip form is
	// checked against it; otherwise the gzip form is inflated to check the
	// name, and dropped again.
	identity, gz := forms[Identity], forms[Gzip]
	if identity == nil {
		var err error
		if identity, err = inflateAll(gz, -1); err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
		gz = nil // just checked
	}
	if nameOf(identity) != name {
		return nil, fmt.Errorf("%w: resource stored as %s has other bytes", ErrCorrupt, name)
	}
	if err := checkForms(identity, gz, forms[Brotli]); err != nil {
		return nil, fmt.Errorf("resource %s: %w", name, err)
	}
	return newResource(name, len(identity), identity, forms[Gzip], forms[Brotli], time.Time{}), nil
}
