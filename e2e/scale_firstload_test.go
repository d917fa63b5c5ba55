package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/contentful"
)

// TestWebhookAndForcedRefreshDuringSlowFirstLoad: at 1,000 posts of 10 KB
// behind a slow Delivery API, a publish webhook and a forced refresh
// (folio refresh) that arrive before the first load is over wait for it,
// settle (no event left pending), and folio then serves, as identity and
// as gzip, what a fresh folio does.
func TestWebhookAndForcedRefreshDuringSlowFirstLoad(t *testing.T) {
	gen, api, srv := largeSpace(t, 13)
	api.SetDelay(20 * time.Millisecond)
	a := start(t, srv.URL, "", cvTypes)
	if a.status("/readyz") == 200 {
		t.Fatal("ready before the test could act during the first load")
	}
	e := gen.Edit(500)
	if err := api.Put(e.Entry); err != nil {
		t.Fatal(err)
	}
	if code, body := a.webhook(e.ID, e.Revision, contentful.Publish); code != 202 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	cmd := exec.Command(binary, "refresh", "--url", a.URL+"/admin/refresh")
	cmd.Env = append(os.Environ(), "CONTENTFUL_WEBHOOK_SECRET="+secret)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "202") {
		t.Fatalf("folio refresh: %v\n%s", err, out)
	}
	if a.status("/readyz") == 200 {
		t.Fatal("the first load ended before both requests arrived")
	}
	a.until("ready", 25*time.Second, func() bool { return a.status("/readyz") == 200 })
	a.until("no event pending", 25*time.Second, func() bool {
		evs := a.events()
		for _, ev := range evs {
			if ev.Outcome != "done" {
				return false
			}
		}
		return len(evs) >= 2
	})
	if _, body := fetchAs(a, "/blog/"+e.Slug, ""); !strings.Contains(body, fmt.Sprintf("revision %d.)", e.Revision)) {
		t.Fatalf("the edit is not served")
	}
	api.SetDelay(0)
	d := start(t, srv.URL, "", cvTypes)
	d.until("ready", 20*time.Second, func() bool { return d.status("/readyz") == 200 })
	for _, p := range contentPaths(gen) {
		wc, want := fetchAs(d, p, "identity")
		for _, coding := range []string{"identity", ""} {
			if code, got := fetchAs(a, p, coding); code != wc || got != want {
				t.Fatalf("%s (Accept-Encoding %q): %d, differs from a fresh folio's %d:\n%.200s\n%.200s", p, coding, code, wc, got, want)
			}
		}
	}
}
