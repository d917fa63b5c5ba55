package cache

import (
	"bytes"
	"crypto/sha256"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/folio-cms/folio/contentful"
)

// partWire is a Part as stored outside the process (Redis): every
// representation's bytes, so a restart or a replica serves without
// re-fetching, re-encoding or re-compressing anything.
type partWire struct {
	Collection Collection
	Root       resourceWire
	Posts      map[string]resourceWire
	Entries    int
	Refs       map[contentful.Ref]int
	FetchedAt  time.Time
	Took       time.Duration
	Requests   int
	Top        map[contentful.Ref]bool
	Removed    map[contentful.Ref]Removal
}

type resourceWire struct {
	Identity, Gzip, Brotli []byte
	Modified               time.Time
}

// MarshalBinary encodes the part for storage.
func (p *Part) MarshalBinary() ([]byte, error) {
	w := partWire{Collection: p.Collection, Root: wire(p.Root), Entries: p.Entries, Refs: p.Refs,
		FetchedAt: p.FetchedAt, Took: p.Took, Requests: p.Requests, Top: p.top, Removed: p.Removed}
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

func wire(r *Resource) resourceWire {
	w := resourceWire{Identity: r.variants[Identity].Body, Modified: r.lastModified}
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
	if w.Collection != CV && w.Collection != Blog || w.Root.Identity == nil {
		return nil, fmt.Errorf("%w: no collection or no root", ErrCorrupt)
	}
	p := &Part{Collection: w.Collection, Root: restore(w.Root), Entries: w.Entries, Refs: w.Refs,
		FetchedAt: w.FetchedAt, Took: w.Took, Requests: w.Requests, top: w.Top, Removed: w.Removed}
	if w.Posts != nil || w.Collection == Blog {
		p.Posts = make(map[string]*Resource, len(w.Posts))
		for slug, r := range w.Posts {
			p.Posts[slug] = restore(r)
		}
	}
	return p, nil
}

// restore rebuilds a resource from stored bytes without compressing again.
func restore(w resourceWire) *Resource {
	sum := sha256.Sum256(w.Identity)
	r := &Resource{hash: hex.EncodeToString(sum[:16]), lastModified: w.Modified.UTC()}
	r.lastModHdr = one(r.lastModified.Format(http.TimeFormat))
	r.variants[Identity] = r.variant(w.Identity, "", "")
	if w.Gzip != nil {
		r.variants[Gzip] = r.variant(w.Gzip, "gzip", "-gz")
	}
	if w.Brotli != nil {
		r.variants[Brotli] = r.variant(w.Brotli, "br", "-br")
	}
	return r
}

// OlderThan reports whether p holds some entity at a lower revision than
// other does, or brings back an entry other saw removed, at the revision it
// had then: swapping p in for other would move content backwards.
func (p *Part) OlderThan(other *Part) bool {
	if p == nil || other == nil {
		return false
	}
	_, _, _, older := Backwards(other, p.Refs)
	return older
}

// Backwards finds an entity that refs hold at a lower revision than served
// does, or an entry served saw removed, back at the revision it had then.
// An entity refs lack is not "older": unpublishing removes entities.
func Backwards(served *Part, refs map[contentful.Ref]int) (ref contentful.Ref, was, now int, older bool) {
	if served == nil {
		return "", 0, 0, false
	}
	for ref, now := range refs {
		if now <= 0 {
			continue
		}
		if was := served.Refs[ref]; was > now {
			return ref, was, now, true
		}
		if r, ok := served.Removed[ref]; ok && now <= r.Revision {
			return ref, r.Revision, now, true
		}
	}
	return "", 0, 0, false
}

// PutUnlessOlder swaps in p unless the served part of its collection is
// newer (a replica loading a snapshot another one wrote). It reports whether
// p was swapped in.
func (s *Store) PutUnlessOlder(p *Part) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.cur.Load()
	if served := cur.Part(p.Collection); served != nil && p.OlderThan(served) {
		return false
	}
	s.cur.Store(cur.with(p))
	return true
}
