package contentful

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
		renderAnswer(t, body, int(depth%12), summaryType)
	})
}

// renderAnswer checks one answer's render (FuzzRender's list); a render
// still running after 10 s fails the input with every goroutine's stack.
func renderAnswer(t *testing.T, body []byte, depth int, summaryType string) {
	watchdog := time.AfterFunc(10*time.Second, func() { panic("rendering did not finish in 10 s") })
	defer watchdog.Stop()
	checkRender(t, body, depth, summaryType)
}

func checkRender(t *testing.T, body []byte, depth int, summaryType string) {
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

// FuzzRenderGraph is FuzzRender on answers built from the input's bytes,
// so that mutation explores link graphs rather than broken JSON: up to
// eight entries of three content types and three assets, whose fields link
// each other (to themselves, in cycles, to what is absent, to other kinds),
// in arrays and rich-text nodes, beside odd values (null, numbers, nested
// arrays, objects that look almost like links).
func FuzzRenderGraph(f *testing.F) {
	f.Add([]byte{3, 0, 1, 2, 3, 4, 5, 6, 7}, uint8(2), uint8(0))
	f.Add([]byte{7, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 22, 33, 44, 55, 66, 77, 88, 99}, uint8(10), uint8(1))
	f.Add([]byte{1, 0, 0, 0, 0}, uint8(0), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, depth uint8, summary uint8) {
		next := func() int {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return int(b)
		}
		types := []string{"post", "profile", "author"}
		n := 1 + next()%8
		link := func() any {
			k := next()
			kind, id := "Entry", fmt.Sprintf("e%d", k%10) // e8, e9: absent
			switch k % 5 {
			case 3:
				kind, id = "Asset", fmt.Sprintf("a%d", k%4) // a3: absent
			case 4:
				kind = []string{"Space", "ContentType", "Tag", ""}[k%4]
			}
			return map[string]any{"sys": map[string]any{"type": "Link", "linkType": kind, "id": id}}
		}
		var value func(depth int) any
		value = func(depth int) any {
			switch k := next(); {
			case depth > 3:
				return k
			case k%8 == 0:
				return link()
			case k%8 == 1:
				return []any{link(), link(), value(depth + 1)}
			case k%8 == 2:
				return map[string]any{"nodeType": "document", "content": []any{
					map[string]any{"nodeType": "embedded-entry-block", "data": map[string]any{"target": link()}},
					map[string]any{"nodeType": "paragraph", "content": []any{value(depth + 1)}}}}
			case k%8 == 3:
				return nil
			case k%8 == 4:
				return map[string]any{"sys": map[string]any{"type": "Link", "linkType": "Entry"}, "extra": value(depth + 1)}
			case k%8 == 5:
				return json.Number(fmt.Sprintf("%de%d", k, k%400))
			case k%8 == 6:
				return []any{[]any{value(depth + 1)}}
			default:
				return fmt.Sprintf("text %d", k)
			}
		}
		var items, assets []any
		for i := range n {
			fields := map[string]any{}
			for j := range next() % 5 {
				fields[[]string{"title", "slug", "related", "author", "body", "image"}[(i+j)%6]] = value(0)
			}
			items = append(items, map[string]any{"sys": map[string]any{"type": "Entry", "id": fmt.Sprintf("e%d", i),
				"revision": next(), "updatedAt": fmt.Sprintf("2026-01-%02dT00:00:00Z", 1+next()%28),
				"contentType": map[string]any{"sys": map[string]any{"id": types[next()%3]}}}, "fields": fields})
		}
		for i := range 3 {
			file := map[string]any{"url": []any{"//img/x.png", "http://img/y", nil, 7}[next()%4],
				"details": map[string]any{"size": value(3), "image": map[string]any{"width": value(3), "height": "9"}}}
			assets = append(assets, map[string]any{"sys": map[string]any{"type": "Asset", "id": fmt.Sprintf("a%d", i), "revision": 1},
				"fields": map[string]any{"title": value(3), "file": file}})
		}
		body, err := json.Marshal(map[string]any{"sys": map[string]any{"type": "Array"}, "total": n, "items": items,
			"includes": map[string]any{"Asset": assets}})
		if err != nil {
			t.Fatal(err)
		}
		renderAnswer(t, body, int(depth%12), []string{"", "post", "author"}[summary%3])
	})
}
