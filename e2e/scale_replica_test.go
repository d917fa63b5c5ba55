package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/contentful/localapi/spacegen"
	"github.com/folio-cms/folio/internal/redistest"
)

// fetchAs reads path with the given Accept-Encoding ("" lets Go's client
// ask for gzip and inflate it).
func fetchAs(f *folio, path, coding string) (int, string) {
	req, _ := http.NewRequest("GET", f.URL+path, nil)
	if coding != "" {
		req.Header.Set("Accept-Encoding", coding)
	}
	return send(req)
}

// cvTypes are spacegen's CV types.
const cvTypes = "FOLIO_CV_TYPES=profile,experience,education,skill,project"

// largeSpace is a local Delivery API serving spacegen's 1,000 posts of
// 10 KB.
func largeSpace(t *testing.T, seed uint64) (*spacegen.Space, *localapi.Server, *httptest.Server) {
	gen := spacegen.Generate(spacegen.Options{Posts: 1000, Seed: seed})
	api := localapi.New("s", "master", token)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	if err := api.Put(gen.Entities()...); err != nil {
		t.Fatal(err)
	}
	return gen, api, srv
}

// contentPaths are /cv, /blog and every post's path.
func contentPaths(gen *spacegen.Space) []string {
	paths := []string{"/cv", "/blog"}
	for i := range gen.Posts() {
		paths = append(paths, (&url.URL{Path: "/blog/" + gen.Slug(i)}).EscapedPath())
	}
	return paths
}

// TestReplicaFromLargeSnapshotWhileLeaderPublishes: at 1,000 posts of
// 10 KB, a replica starts from the leader's Redis snapshot while the
// leader takes publish webhooks, Redis loses its data (FLUSHALL) between
// two of the leader's saves, and at the end both serve, as identity and as
// gzip, exactly what a fresh folio serves for every post and /blog page.
func TestReplicaFromLargeSnapshotWhileLeaderPublishes(t *testing.T) {
	rds := redistest.Start(t)
	gen, api, srv := largeSpace(t, 7)
	a := start(t, srv.URL, rds.URL, cvTypes)
	a.until("ready", 20*time.Second, func() bool { return a.status("/readyz") == 200 })
	leader(t, a)
	a.until("snapshot saved", 20*time.Second, func() bool { return strings.Count(a.logs.String(), "redis: snapshot saved") >= 2 })

	b := start(t, srv.URL, rds.URL, cvTypes)
	var edits []spacegen.Edit
	for k := range 12 {
		if k == 6 {
			rds.Do(t, "FLUSHALL")
		}
		e := gen.Edit(k * 83)
		if err := api.Put(e.Entry); err != nil {
			t.Fatal(err)
		}
		if code, body := a.webhook(e.ID, e.Revision, contentful.Publish); code != 202 && code != 200 {
			t.Fatalf("webhook %s: %d %s", e.ID, code, body)
		}
		edits = append(edits, e)
	}
	servesAll := func(f *folio) func() bool {
		return func() bool {
			for _, e := range edits {
				_, body := fetchAs(f, "/blog/"+e.Slug, "")
				if !strings.Contains(body, fmt.Sprintf("revision %d.)", e.Revision)) {
					return false
				}
			}
			return true
		}
	}
	a.until("the leader serves every edit", 25*time.Second, servesAll(a))
	b.until("the replica serves every edit", 25*time.Second, servesAll(b))

	c := start(t, srv.URL, "", cvTypes) // a fresh folio, memory only
	c.until("ready", 20*time.Second, func() bool { return c.status("/readyz") == 200 })
	paths := contentPaths(gen)
	for page := 2; ; page++ {
		p := fmt.Sprintf("/blog?page=%d", page)
		if c.status(p) != 200 {
			break
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		wc, want := fetchAs(c, p, "identity")
		if wc != 200 {
			t.Fatalf("fresh folio %s: %d", p, wc)
		}
		for name, f := range map[string]*folio{"leader": a, "replica": b, "fresh": c} {
			for _, coding := range []string{"identity", ""} {
				if code, got := fetchAs(f, p, coding); code != 200 || got != want {
					t.Fatalf("%s %s (Accept-Encoding %q): %d, differs from a fresh folio:\n%.200s\n%.200s", name, p, coding, code, got, want)
				}
			}
		}
	}
}
