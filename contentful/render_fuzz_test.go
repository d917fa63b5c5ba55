package contentful

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"
)

// FuzzRender feeds Delivery API collection answers to what a fetch does
// with a page (decode, check each entity's sys, keep it raw) and renders
// every item in full and as a summary, one response at a time and all in
// one response, as /cv and the blog do. Whatever the answer (links to
// nothing, to themselves, in cycles, through rich text, odd or missing
// fields, wrong types, absurd numbers):
//
//   - nothing panics, and each render finishes (a watchdog fails the
//     input after 10 s);
//   - a refusal is ErrMalformed;
//   - the output is JSON, and bounded: at most 64 × the answer's size²
//     plus 64 KiB (each entry is in full once per response, and what
//     repeats, stubs, assets and summaries, is no larger than its source);
//   - no entry but a summary is in full twice inside one response's
//     items (an item is in full at its own place as well, even where an
//     earlier item links it in full: /cv does so);
//   - an entity kept (packed) and read back gives the bytes sent, and its
//     links are read without a refusal other than ErrMalformed.
//
// The seeds are the recorded answers of Contentful's own SDK tests
// (testdata/recorded).
func FuzzRender(f *testing.F) {
	_, bodies := recordedEntities(f)
	for i, b := range bodies {
		f.Add(b, uint8(i%4), []string{"", "cat", "human", "embedded"}[i%4])
	}
	cyc := `{"sys":{"type":"Array"},"total":2,"items":[
		{"sys":{"type":"Entry","id":"a","revision":1,"contentType":{"sys":{"id":"post"}}},"fields":{"next":{"sys":{"type":"Link","linkType":"Entry","id":"b"}},"self":{"sys":{"type":"Link","linkType":"Entry","id":"a"}}}},
		{"sys":{"type":"Entry","id":"b","revision":2,"contentType":{"sys":{"id":"post"}}},"fields":{"back":[{"sys":{"type":"Link","linkType":"Entry","id":"a"}},{"sys":{"type":"Link","linkType":"Asset","id":"img"}}],
		 "body":{"nodeType":"document","content":[{"nodeType":"embedded-entry-block","data":{"target":{"sys":{"type":"Link","linkType":"Entry","id":"b"}}}}]}}}],
		"includes":{"Asset":[{"sys":{"type":"Asset","id":"img","revision":1},"fields":{"title":"x","file":{"url":"//images/x.png","details":{"size":12,"image":{"width":1e40,"height":"9"}}}}}]}}`
	f.Add([]byte(cyc), uint8(10), "post")
	f.Add([]byte(cyc), uint8(0), "")
	f.Add([]byte(`{"sys":{"type":"Array"},"items":[{"sys":{"type":"Entry","id":"a","contentType":{"sys":{"id":"t"}},"revision":"1"}}]}`), uint8(2), "t")
	f.Add([]byte(`{"sys":{"type":"Array"},"items":[{"sys":{"type":"Entry","id":"a","contentType":{"sys":null}},"fields":null}]}`), uint8(2), "")
	f.Add([]byte(`{"sys":{"type":"Array"},"items":[{"sys":{"type":"Entry","id":"a","contentType":{"sys":{"id":"t"}}},"fields":{"l":{"sys":{"type":"Link","linkType":"Space","id":"s"}},"n":[[[{"sys":{"type":"Link","linkType":"Entry"}}]]]}}]}`), uint8(1), "t")

	f.Fuzz(func(t *testing.T, body []byte, depth uint8, summaryType string) {
		done := make(chan struct{})
		go func() {
			defer close(done)
			renderAnswer(t, body, int(depth%12), summaryType)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			panic("rendering did not finish in 10 s")
		}
	})
}

func renderAnswer(t *testing.T, body []byte, depth int, summaryType string) {
	// What try and fetchOnce do with an answer.
	var p page
	if err := json.Unmarshal(body, &p); err != nil || p.Sys.Type != "Array" {
		return
	}
	c := &Collection{Entities: map[Ref]Entity{}}
	sent := map[Ref][]byte{}
	for _, raw := range slices.Concat(p.Items, p.Includes.Entry, p.Includes.Asset) {
		sys, err := keep(c, raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("an untyped refusal: %v", err)
			}
			return
		}
		if sys.Type == "Asset" {
			sent[AssetRef(sys.ID)] = raw
		} else {
			sent[EntryRef(sys.ID)] = raw
		}
		if sys.Type == "Entry" && !slices.Contains(c.Items, sys.ID) && len(c.Items) < len(p.Items) {
			c.Items = append(c.Items, sys.ID)
		}
	}
	for ref, e := range c.Entities {
		if b, err := e.Pack().JSON(); err != nil || !bytes.Equal(b, sent[ref]) {
			t.Fatalf("%s: kept, packed and read back: %v\n%q\n%q", ref, err, b, sent[ref])
		}
		if _, err := e.Links(); err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s: Links: an untyped refusal: %v", ref, err)
		}
	}

	bound := 64*len(body)*len(body) + 64<<10
	check := func(what string, out any, err error) []byte {
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s: an untyped refusal: %v", what, err)
			}
			return nil
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("%s: the output is not JSON: %v", what, err)
		}
		if len(b) > bound {
			t.Fatalf("%s: %d bytes out of a %d-byte answer", what, len(b), len(body))
		}
		return b
	}
	r := NewRenderer(c.Entities, RenderOptions{Depth: depth, SummaryType: summaryType, SummaryFields: []string{"title", "name", "slug", "image"}})
	all := r.Begin()
	var whole []any
	for _, id := range c.Items {
		e, err := r.Begin().Full(id)
		check("Full("+id+")", e, err)
		s, err := r.Begin().Summary(id)
		check("Summary("+id+")", s, err)
		e, err = all.Full(id)
		if err != nil {
			check("one response", nil, err)
			return
		}
		whole = append(whole, e)
	}
	out := check("one response", whole, nil)
	if out == nil {
		return
	}
	// No entry but a summary in full twice inside the items.
	var doc []map[string]any
	json.Unmarshal(out, &doc)
	full := map[string]int{}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			id, _ := x["id"].(string)
			ct, isEntry := x["contentType"].(string)
			if _, hasFields := x["fields"]; hasFields && isEntry && ct != summaryType {
				if _, hasRev := x["revision"]; hasRev {
					full[id]++
				}
			}
			for _, y := range x {
				walk(y)
			}
		case []any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	for _, item := range doc {
		walk(item["fields"])
	}
	for id, n := range full {
		if n > 1 && c.Entities[EntryRef(id)].Raw != nil {
			t.Fatalf("entry %s is in full %d times inside one response's items", id, n)
		}
	}
}
