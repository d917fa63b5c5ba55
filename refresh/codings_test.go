package refresh_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/refresh"
)

// bigPost is a post of about 10 KB, with a text that changes with its
// revision (so gzip pays off and each change moves its bytes).
func bigPost(id string, rev int, title string) json.RawMessage {
	var b strings.Builder
	for i := 0; b.Len() < 10<<10; i++ {
		fmt.Fprintf(&b, "Paragraph %d of %s at revision %d, lorem ipsum dolor sit amet. ", i, id, rev)
	}
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Entry","id":%q,"revision":%d,"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-0%dT00:00:00Z",
		"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"blogPost"}}},
		"fields":{"slug":%q,"title":%q,"publishDate":"2025-01-01","body":%q}}`, id, rev, rev%10, id, title, b.String()))
}

// codings returns a resource's identity, gzip and brotli answers decoded.
func codings(t *testing.T, r *cache.Resource) (identity, gz, br []byte) {
	t.Helper()
	var id bytes.Buffer
	if _, err := r.Variant(cache.Identity).WriteTo(&id); err != nil {
		t.Fatal(err)
	}
	decode := func(e cache.Encoding, open func(io.Reader) (io.Reader, error)) []byte {
		v := r.Variant(e)
		if v == nil || v.Body == nil {
			return id.Bytes() // not held in this coding: served as identity
		}
		rd, err := open(bytes.NewReader(v.Body))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(rd)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	gz = decode(cache.Gzip, func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) })
	br = decode(cache.Brotli, func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil })
	return id.Bytes(), gz, br
}

// TestCodingsAgreeAfterManyChanges: after many webhook changes of 10 KB
// posts (publish, unpublish, republish), every post and /blog page answers
// the same JSON as identity, gzip and brotli, and the same as a fresh
// folio's whole build of the final space.
func TestCodingsAgreeAfterManyChanges(t *testing.T) {
	const n = 30
	var posts []json.RawMessage
	revs := map[string]int{}
	for i := range n {
		id := fmt.Sprintf("p%02d", i)
		posts = append(posts, bigPost(id, 1, "Post "+id))
		revs[id] = 1
	}
	f := newEngine(t, refresh.EngineOptions{}, posts...)
	rng := rand.New(rand.NewPCG(1, 2))
	gone := map[string]bool{}
	for range 40 {
		id := fmt.Sprintf("p%02d", rng.IntN(n))
		revs[id]++
		var ev refresh.Event
		if !gone[id] && rng.IntN(5) == 0 {
			f.api.Delete(id)
			gone[id] = true
			ev = f.unpublish(id, revs[id])
		} else {
			if err := f.api.Put(bigPost(id, revs[id], fmt.Sprintf("Post %s r%d", id, revs[id]))); err != nil {
				t.Fatal(err)
			}
			gone[id] = false
			ev = f.publish(id, revs[id], cache.Blog)
		}
		if r := f.finalOf(ev.ID); r.Outcome != refresh.Done {
			t.Fatalf("event %s on %s: %s %s", ev.ID, id, r.Outcome, r.Error)
		}
	}

	srv := httptest.NewServer(f.api)
	t.Cleanup(srv.Close)
	client, err := contentful.New(contentful.Options{BaseURL: srv.URL, Space: "s", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	fresh := &cache.Store{}
	if err := refresh.NewLoader(client, fresh, cols, nil).RefreshAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, want := f.store.Load().Blog, fresh.Load().Blog
	check := func(name string, g, w *cache.Resource) {
		t.Helper()
		if g == nil || w == nil {
			t.Fatalf("%s: served %v, fresh %v", name, g != nil, w != nil)
		}
		id, gz, br := codings(t, g)
		if !bytes.Equal(id, gz) || !bytes.Equal(id, br) {
			t.Fatalf("%s: identity, gzip and brotli answers differ", name)
		}
		if wid, _, _ := codings(t, w); !bytes.Equal(id, wid) {
			t.Fatalf("%s: differs from a fresh folio's:\n%.300s\n%.300s", name, id, wid)
		}
	}
	if len(got.Posts) != len(want.Posts) {
		t.Fatalf("%d posts served, a fresh folio serves %d", len(got.Posts), len(want.Posts))
	}
	for slug, w := range want.Posts {
		check("/blog/"+slug, got.Posts[slug], w)
	}
	check("/blog", got.Root, want.Root)
	if len(got.Pages) != len(want.Pages) {
		t.Fatalf("%d /blog pages, a fresh folio serves %d", len(got.Pages), len(want.Pages))
	}
	for i, w := range want.Pages {
		check(fmt.Sprintf("/blog?page=%d", i+1), got.Pages[i], w)
	}
}
