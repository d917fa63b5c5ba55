package localapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
)

// Entity types as they appear in sys.type and in links' sys.linkType.
const (
	typeEntry = "Entry"
	typeAsset = "Asset"
)

// entityKey identifies an entity: Contentful ids are unique per type only
// (the example space has both an Entry and an Asset called "nyancat").
type entityKey struct {
	typ string
	id  string
}

// entity is one stored entry or asset. It is immutable once stored, so
// snapshots can share it across goroutines without copying.
type entity struct {
	key         entityKey
	contentType string         // sys.contentType.sys.id; entries only
	doc         map[string]any // the entity as served, numbers as json.Number
	links       []entityKey    // Entry and Asset links in fields, first-seen order, each once
}

// parseAll parses and validates entities, failing on the first invalid one.
func (s *Server) parseAll(raws []json.RawMessage) ([]*entity, error) {
	out := make([]*entity, 0, len(raws))
	for i, raw := range raws {
		e, err := s.parseEntity(raw)
		if err != nil {
			return nil, fmt.Errorf("localapi: entity %d: %w", i, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// parseEntity decodes one entity, validates it, fills its missing space and
// environment links and indexes its links.
func (s *Server) parseEntity(raw json.RawMessage) (*entity, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as given, e.g. 52.52000659999999
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the entity")
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a JSON object")
	}
	sys, ok := doc["sys"].(map[string]any)
	if !ok {
		return nil, errors.New("missing sys object")
	}
	typ, _ := sys["type"].(string)
	if typ != typeEntry && typ != typeAsset {
		return nil, fmt.Errorf("sys.type is %q, want Entry or Asset", typ)
	}
	id, _ := sys["id"].(string)
	if id == "" {
		return nil, errors.New("sys.id is missing or not a non-empty string")
	}
	e := &entity{key: entityKey{typ, id}, doc: doc}
	if typ == typeEntry {
		e.contentType = linkID(sys["contentType"])
		if e.contentType == "" {
			return nil, fmt.Errorf("entry %q has no sys.contentType.sys.id", id)
		}
	}
	if f, ok := doc["fields"]; ok && f != nil {
		if _, ok := f.(map[string]any); !ok {
			return nil, fmt.Errorf("%s %q: fields is not an object", typ, id)
		}
	}
	if _, ok := sys["space"]; !ok {
		sys["space"] = map[string]any{"sys": map[string]any{"type": "Link", "linkType": "Space", "id": s.space}}
	}
	if _, ok := sys["environment"]; !ok {
		sys["environment"] = map[string]any{"sys": map[string]any{"id": s.environment, "type": "Link", "linkType": "Environment"}}
	}
	seen := make(map[entityKey]bool)
	collectLinks(doc["fields"], func(k entityKey) {
		if !seen[k] {
			seen[k] = true
			e.links = append(e.links, k)
		}
	})
	return e, nil
}

// linkID returns v.sys.id when v is an object of that shape, else "".
func linkID(v any) string {
	m, _ := v.(map[string]any)
	sys, _ := m["sys"].(map[string]any)
	id, _ := sys["id"].(string)
	return id
}

// asLink reports whether v is a link to an Entry or Asset, e.g.
// {"sys":{"type":"Link","linkType":"Asset","id":"x"}}, and returns its target.
func asLink(v map[string]any) (entityKey, bool) {
	sys, ok := v["sys"].(map[string]any)
	if !ok || sys["type"] != "Link" {
		return entityKey{}, false
	}
	lt, _ := sys["linkType"].(string)
	id, _ := sys["id"].(string)
	if (lt != typeEntry && lt != typeAsset) || id == "" {
		return entityKey{}, false
	}
	return entityKey{lt, id}, true
}

// collectLinks calls add for every Entry or Asset link anywhere in v, in a
// deterministic order (object keys sorted), including links nested in rich
// text documents (data.target).
func collectLinks(v any, add func(entityKey)) {
	switch t := v.(type) {
	case map[string]any:
		if k, ok := asLink(t); ok {
			add(k)
			return
		}
		for _, key := range slices.Sorted(maps.Keys(t)) {
			collectLinks(t[key], add)
		}
	case []any:
		for _, x := range t {
			collectLinks(x, add)
		}
	}
}
