package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/internal/redistest"
)

// TestSIGTERMDuringFirstLoad: Docker sends SIGTERM and kills 10 s later.
// A folio still in its first load (the Delivery API answers slowly) stops
// at once, cleanly, instead of finishing the load first.
func TestSIGTERMDuringFirstLoad(t *testing.T) {
	apiSrv, api := space(t)
	apiSrv.SetDelay(time.Hour)
	f := start(t, api, "")
	f.until("the first fetch started", 5*time.Second, func() bool {
		return apiSrv.Count(func(r localapi.Request) bool { return r.Status == 0 }) > 0
	})
	sent := time.Now()
	f.stop()
	if took := time.Since(sent); took > 8*time.Second || f.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("SIGTERM during the first load: exit %d after %s (the grace is 8 s, Docker's 10 s)\n%s",
			f.cmd.ProcessState.ExitCode(), took, tail(f.logs.String(), 20))
	}
}

// TestLastModifiedAcrossRestartWithoutRedis: the newest post is removed
// while folio is down (nothing survives a restart without Redis). The list
// the new process serves has other bytes, so its Last-Modified must pass the
// one the old process gave out, though the latest updatedAt inside went back.
func TestLastModifiedAcrossRestartWithoutRedis(t *testing.T) {
	apiSrv, api := space(t)
	if err := apiSrv.Put(entry("newest", "blogPost", 9, `{"slug":"newest","title":"Newest"}`)); err != nil {
		t.Fatal(err)
	}
	a := start(t, api, "")
	a.until("ready", 10*time.Second, func() bool { return a.status("/readyz") == 200 })
	before := lastModified(t, a.URL+"/blog")
	a.stop()
	apiSrv.Delete("newest")
	// HTTP dates have whole seconds: a restart within the second that
	// the old process gave out cannot be told apart from it.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	b := start(t, api, "")
	b.until("ready", 10*time.Second, func() bool { return b.status("/readyz") == 200 })
	after := lastModified(t, b.URL+"/blog")
	if !after.After(before) {
		t.Fatalf("Last-Modified went from %v to %v while the list lost a post", before, after)
	}
}

func lastModified(t *testing.T, url string) time.Time {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	lm, err := http.ParseTime(res.Header.Get("Last-Modified"))
	if err != nil {
		t.Fatalf("Last-Modified %q: %v", res.Header.Get("Last-Modified"), err)
	}
	return lm
}

// TestForcedRefreshReachesEveryReplica: a signature-only deployment (no
// Auth0) of three replicas. The Delivery API now holds a post at a lower
// revision of the same incarnation (an environment restored from a
// backup, say): within the lag bound the revision rule keeps the served
// one. The operator runs `folio refresh` against a follower; every replica
// serves what the Delivery API answers.
func TestForcedRefreshReachesEveryReplica(t *testing.T) {
	rds := redistest.Start(t)
	apiSrv, api := space(t)
	if err := apiSrv.Put(post("p1", 3)); err != nil {
		t.Fatal(err)
	}
	fs, _, follower := replicas(t, api, rds.URL)
	for _, f := range fs {
		f.until("revision 3 served", 10*time.Second, func() bool { return f.serves("p1", 3) })
	}
	if err := apiSrv.Put(post("p1", 1)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "refresh", "--url", follower.URL+"/admin/refresh")
	cmd.Env = append(os.Environ(), "CONTENTFUL_WEBHOOK_SECRET="+secret)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "202") {
		t.Fatalf("folio refresh: %v\n%s", err, out)
	}
	for _, f := range fs {
		f.until("the forced refresh served", 10*time.Second, func() bool { return f.serves("p1", 1) })
	}
}
