package localapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// change is one lagged modification: either entities to store or ids to
// delete.
type change struct {
	put []*entity
	del []string
}

// snapshot is an immutable, sorted view of the served content, shared by
// concurrent requests and rebuilt lazily after a change.
type snapshot struct {
	entries []*entity // sorted by sys.id
	assets  []*entity // sorted by sys.id
	byKey   map[entityKey]*entity
}

// Put stores entries and assets, replacing any stored entity of the same
// sys.type and sys.id, and makes them visible at once. Each must be in the
// Delivery API's single-locale shape, as the API returns it in "items". Put
// checks that sys.type is Entry or Asset, that sys.id is set and that entries
// name their content type, and fills sys.space and sys.environment links when
// they are missing. Nothing is stored unless every entity is valid.
func (s *Server) Put(entities ...json.RawMessage) error {
	parsed, err := s.parseAll(entities)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store(parsed)
	return nil
}

// Delete removes (unpublishes) entities by id, at once. An id removes every
// entity with that id, entry or asset, because Contentful ids are unique per
// type only; to remove just one of them, qualify the id as "Entry:<id>" or
// "Asset:<id>" (real ids cannot contain a colon). Unknown ids are ignored.
func (s *Server) Delete(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remove(ids)
}

// Load stores the entries and assets of a document of the form
// {"entries":[...],"assets":[...]}, as Put does, so that demo content and test
// data can live in one file. Each entity must have the sys.type of the list it
// is in. Nothing is stored unless the whole document is valid.
func (s *Server) Load(doc []byte) error {
	var d struct {
		Entries []json.RawMessage `json:"entries"`
		Assets  []json.RawMessage `json:"assets"`
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return fmt.Errorf("localapi: load: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("localapi: load: data after the document")
	}
	var all []*entity
	for _, list := range []struct {
		name, typ string
		raw       []json.RawMessage
	}{{"entries", typeEntry, d.Entries}, {"assets", typeAsset, d.Assets}} {
		parsed, err := s.parseAll(list.raw)
		if err != nil {
			return fmt.Errorf("localapi: load %s: %w", list.name, err)
		}
		for i, e := range parsed {
			if e.key.typ != list.typ {
				return fmt.Errorf("localapi: load %s[%d]: sys.type is %q, want %q", list.name, i, e.key.typ, list.typ)
			}
		}
		all = append(all, parsed...)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store(all)
	return nil
}

// PutLagged validates and records entities like Put, but the API keeps serving
// the previous content until ReleaseLag is called. This reproduces the lag of
// Contentful's CDN, which can serve an old revision for seconds to minutes
// after a publish webhook has fired.
func (s *Server) PutLagged(entities ...json.RawMessage) error {
	parsed, err := s.parseAll(entities)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, change{put: parsed})
	return nil
}

// DeleteLagged records a deletion like Delete, but the API keeps serving the
// entities until ReleaseLag is called, as Contentful's CDN does after an
// unpublish webhook.
func (s *Server) DeleteLagged(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pending = append(s.pending, change{del: slices.Clone(ids)})
}

// ReleaseLag makes every change recorded by PutLagged and DeleteLagged
// visible, in the order they were recorded, on top of the current content
// (the CDN purge has happened).
func (s *Server) ReleaseLag() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.pending {
		s.store(c.put)
		s.remove(c.del)
	}
	s.pending = nil
}

// snapshot returns the current sorted view of the content, building it if a
// change invalidated the last one.
func (s *Server) snapshot() *snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snap != nil {
		return s.snap
	}
	sn := &snapshot{byKey: maps.Clone(s.live)}
	for _, e := range s.live {
		if e.key.typ == typeEntry {
			sn.entries = append(sn.entries, e)
		} else {
			sn.assets = append(sn.assets, e)
		}
	}
	byID := func(a, b *entity) int { return strings.Compare(a.key.id, b.key.id) }
	slices.SortFunc(sn.entries, byID)
	slices.SortFunc(sn.assets, byID)
	s.snap = sn
	return sn
}

// store puts parsed entities into the live content. The caller holds s.mu.
func (s *Server) store(es []*entity) {
	for _, e := range es {
		s.live[e.key] = e
	}
	if len(es) > 0 {
		s.snap = nil
	}
}

// remove deletes entities by id, plain or qualified as "Entry:id"/"Asset:id".
// The caller holds s.mu.
func (s *Server) remove(ids []string) {
	for _, id := range ids {
		types := []string{typeEntry, typeAsset}
		if t, rest, ok := strings.Cut(id, ":"); ok && (t == typeEntry || t == typeAsset) {
			types, id = []string{t}, rest
		}
		for _, t := range types {
			if _, ok := s.live[entityKey{t, id}]; ok {
				delete(s.live, entityKey{t, id})
				s.snap = nil
			}
		}
	}
}
