package e2e

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi/spacegen"
	"github.com/folio-cms/folio/internal/redistest"
)

// TestLeaderKilledDuringFirstSave: at 1,000 posts of 10 KB, a leader
// killed while its first save of the blog is writing blobs leaves nothing
// a replica serves half of; the next leader loads, saves and takes an
// unpublish of a linked post right after start; a replica that starts
// from its snapshot then serves, for every post, what a fresh folio does.
func TestLeaderKilledDuringFirstSave(t *testing.T) {
	rds := redistest.Start(t)
	gen, api, srv := largeSpace(t, 11)
	a := start(t, srv.URL, rds.URL, cvTypes)
	a.until("the blog's blobs being written", 20*time.Second, func() bool {
		n, _ := strconv.Atoi(strings.TrimSpace(rds.Do(t, "DBSIZE")))
		return n > 300
	})
	a.kill()
	if strings.Contains(a.logs.String(), `"redis: snapshot saved","collection":"blog"`) {
		t.Fatal("the leader saved the blog before it was killed: the test no longer kills it mid-save")
	}

	b := start(t, srv.URL, rds.URL, cvTypes)
	b.until("ready", 20*time.Second, func() bool { return b.status("/readyz") == 200 })
	leader(t, b)
	// Post 1 links post 0 (spacegen: every post but the first links an earlier one).
	gone := spacegen.PostID(0)
	api.Delete(gone)
	if code, body := b.webhook(gone, gen.Revision(0)+1, contentful.Unpublish); code != 202 && code != 200 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	b.until("the unpublished post is gone", 20*time.Second, func() bool { return b.status("/blog/"+gen.Slug(0)) == 404 })
	b.until("the blog saved", 20*time.Second, func() bool {
		return strings.Count(b.logs.String(), `"redis: snapshot saved","collection":"blog"`) >= 1
	})

	c := start(t, srv.URL, rds.URL, cvTypes) // a replica from b's snapshot
	d := start(t, srv.URL, "", cvTypes)      // a fresh folio, memory only
	d.until("ready", 20*time.Second, func() bool { return d.status("/readyz") == 200 })
	c.until("ready", 20*time.Second, func() bool { return c.status("/readyz") == 200 })
	for _, p := range contentPaths(gen) {
		wc, want := fetchAs(d, p, "identity")
		for name, f := range map[string]*folio{"leader": b, "replica": c} {
			var code int
			var got string
			f.until(name+" converges on "+p, 10*time.Second, func() bool {
				code, got = fetchAs(f, p, "")
				return code == wc && got == want
			})
			if code, got = fetchAs(f, p, "identity"); code != wc || got != want {
				t.Fatalf("%s %s identity: %d, differs from a fresh folio's %d:\n%.200s\n%.200s", name, p, code, wc, got, want)
			}
		}
	}
}
