package cache

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"time"

	"github.com/folio-cms/folio/contentful"
)

// partWire is a Part as stored outside the process (Redis): every
// representation's bytes, so a restart or a replica serves without
// re-fetching, re-encoding or re-compressing anything.
type partWire struct {
	Collection Collection
	Root       resourceWire
	Pages      []resourceWire
	Posts      map[string]resourceWire
	Items      []Item
	Key        string
	Forced     bool
	Entries    int
	Refs       map[contentful.Ref]int
	FetchedAt  time.Time
	Took       time.Duration
	Requests   int
	Entities   map[contentful.Ref]contentful.Entity
	// Stored replaces Entities when their JSON is stored apart (Stored).
	Stored map[contentful.Ref]entityWire
	Marks  map[contentful.Ref]Mark
	Floor  time.Time
}

// resourceWire is one route's resource: its bytes (MarshalBinary), or
// only its Hash when the bytes are stored apart (MarshalMeta). Modified is
// the route's own date: resources with the same bytes can carry others.
type resourceWire struct {
	Identity, Gzip, Brotli []byte
	Modified               time.Time
	Hash                   string
}

// MarshalBinary encodes the part for storage.
func (p *Part) MarshalBinary() ([]byte, error) {
	w := p.wire()
	for _, r := range p.Pages {
		w.Pages = append(w.Pages, wire(r))
	}
	if len(p.Pages) == 0 { // the root is the first page otherwise
		w.Root = wire(p.Root)
	}
	if p.Posts != nil {
		w.Posts = make(map[string]resourceWire, len(p.Posts))
		for slug, r := range p.Posts {
			w.Posts[slug] = wire(r)
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(w); err != nil {
		return nil, fmt.Errorf("cache: encoding part %s: %w", p.Collection, err)
	}
	return buf.Bytes(), nil
}

// wire is the part's wire form without its resources.
func (p *Part) wire() partWire {
	return partWire{Collection: p.Collection, Entries: p.Entries, Refs: p.Refs,
		FetchedAt: p.FetchedAt, Took: p.Took, Requests: p.Requests, Entities: p.Entities, Marks: p.Marks, Floor: p.Floor,
		Items: p.Items, Key: p.key, Forced: p.Forced}
}

func wire(r *Resource) resourceWire {
	w := resourceWire{Identity: r.Body(), Modified: r.lastModified}
	if v := r.variants[Gzip]; v != nil {
		w.Gzip = v.Body
	}
	if v := r.variants[Brotli]; v != nil {
		w.Brotli = v.Body
	}
	return w
}

// ErrCorrupt marks stored bytes that do not decode to a part.
var ErrCorrupt = errors.New("cache: stored part is corrupt")

// UnmarshalPart decodes a stored part, checking it is whole.
func UnmarshalPart(b []byte) (*Part, error) {
	var w partWire
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	if w.Collection != CV && w.Collection != Blog || w.Root.Identity == nil && (len(w.Pages) == 0 || w.Pages[0].Identity == nil) {
		return nil, fmt.Errorf("%w: no collection or no root", ErrCorrupt)
	}
	var bad error
	p := w.part(func(rw resourceWire) *Resource {
		r, err := restore(rw)
		if err != nil {
			bad = err
		}
		return r
	})
	if bad != nil {
		return nil, bad
	}
	return p, nil
}

// part assembles the part from its wire form, taking each resource from res.
func (w partWire) part(res func(resourceWire) *Resource) *Part {
	p := &Part{Collection: w.Collection, Entries: w.Entries, Refs: w.Refs,
		FetchedAt: w.FetchedAt, Took: w.Took, Requests: w.Requests, Entities: w.Entities, Marks: w.Marks, Floor: w.Floor,
		Items: w.Items, key: w.Key, Forced: w.Forced}
	for _, r := range w.Pages {
		p.Pages = append(p.Pages, res(r))
	}
	if len(p.Pages) > 0 {
		p.Root = p.Pages[0] // one resource, as built
	} else {
		p.Root = res(w.Root)
	}
	if w.Posts != nil || w.Collection == Blog {
		p.Posts = make(map[string]*Resource, len(w.Posts))
		for slug, r := range w.Posts {
			p.Posts[slug] = res(r)
		}
	}
	return p
}

// restore rebuilds a resource from stored bytes, its identity among them,
// without compressing again. The compressed forms it holds must decode to
// the identity (ErrCorrupt otherwise: checkForms): the gzip form is what
// identity answers send from then on.
func restore(w resourceWire) (*Resource, error) {
	if err := checkForms(w.Identity, w.Gzip, w.Brotli); err != nil {
		return nil, err
	}
	return newResource(nameOf(w.Identity), len(w.Identity), w.Identity, w.Gzip, w.Brotli, w.Modified), nil
}
