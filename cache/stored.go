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
)

// A part stored content-addressed is a small meta record (MarshalMeta: the
// part without its resources' bytes, each route naming its resource's hash
// and carrying its own Last-Modified) and one blob per distinct resource
// (MarshalBlob: the identity, gzip and brotli bytes), so a change stores
// and loads only the resources it changed.

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

// MarshalMeta encodes the part without its resources' bytes; the
// resources it names are p.Resources().
func (p *Part) MarshalMeta() ([]byte, error) {
	w := partWire{Collection: p.Collection, Entries: p.Entries, Refs: p.Refs,
		FetchedAt: p.FetchedAt, Took: p.Took, Requests: p.Requests, Entities: p.Entities, Marks: p.Marks, Floor: p.Floor,
		Items: p.Items, Key: p.key, Forced: p.Forced}
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
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(w); err != nil {
		return nil, fmt.Errorf("cache: encoding part %s: %w", p.Collection, err)
	}
	return buf.Bytes(), nil
}

// Meta is a stored part whose resources may be stored apart.
type Meta struct{ w partWire }

// UnmarshalMeta decodes what MarshalMeta (or MarshalBinary, whose
// resources are inline) wrote.
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

// Hashes returns, sorted, the distinct hashes of the resources stored apart.
func (m *Meta) Hashes() []string {
	set := map[string]bool{}
	m.each(func(r resourceWire) {
		if r.Identity == nil && r.Hash != "" {
			set[r.Hash] = true
		}
	})
	return slices.Sorted(maps.Keys(set))
}

// Part assembles the part, taking each resource stored apart from get (nil
// when it is not at hand: an error) and dating it as its route.
func (m *Meta) Part(get func(hash string) *Resource) (*Part, error) {
	w := m.w
	var missing string
	res := func(rw resourceWire) *Resource {
		if rw.Identity != nil {
			return restore(rw)
		}
		r := get(rw.Hash)
		if r == nil || r.hash != rw.Hash {
			missing = rw.Hash
			return nil
		}
		if t := rw.Modified.UTC(); !r.lastModified.Equal(t) {
			r = r.withModTime(t)
		}
		return r
	}
	p := w.part(res)
	if missing != "" {
		return nil, fmt.Errorf("cache: part %s: resource %s is not at hand", w.Collection, missing)
	}
	return p, nil
}

// MarshalBlob encodes the resource's bytes in every encoding (not its
// date): for each of identity, gzip and brotli a uvarint of its length
// plus one (0: that form was not made), then the bytes.
func (r *Resource) MarshalBlob() []byte {
	n := 3 * binary.MaxVarintLen64
	for _, v := range r.variants {
		if v != nil {
			n += len(v.Body)
		}
	}
	b := make([]byte, 0, n)
	for _, v := range r.variants {
		if v == nil {
			b = binary.AppendUvarint(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(v.Body))+1)
		b = append(b, v.Body...)
	}
	return b
}

// UnmarshalBlob rebuilds a resource from MarshalBlob's bytes, checking
// they are the bytes of hash. Its date is the zero time: Meta.Part dates
// it as its route.
func UnmarshalBlob(hash string, b []byte) (*Resource, error) {
	var forms [numEncodings][]byte
	for i := range forms {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k)+1 {
			return nil, fmt.Errorf("%w: resource %s is cut short", ErrCorrupt, hash)
		}
		b = b[k:]
		if n > 0 {
			forms[i], b = b[:n-1:n-1], b[n-1:]
		}
	}
	if forms[Identity] == nil || len(b) != 0 {
		return nil, fmt.Errorf("%w: resource %s is malformed", ErrCorrupt, hash)
	}
	if sum := sha256.Sum256(forms[Identity]); hex.EncodeToString(sum[:16]) != hash {
		return nil, fmt.Errorf("%w: resource stored as %s has other bytes", ErrCorrupt, hash)
	}
	return restore(resourceWire{Identity: forms[Identity], Gzip: forms[Gzip], Brotli: forms[Brotli]}), nil
}
