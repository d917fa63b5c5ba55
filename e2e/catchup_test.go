package e2e

import (
	"testing"
	"time"

	"github.com/folio-cms/folio/internal/redistest"
)

// A follower that serves both collections from Redis and takes over from
// a leader that died refreshes them at once (a change made while no
// webhook reached anyone is served within seconds), not only after the
// CDN lag bound (FOLIO_CDN_WAIT, 2 minutes): the catch-up leaves out only
// what the process serves nothing of yet.
func TestTakeoverCatchesUpAtOnce(t *testing.T) {
	rds := redistest.Start(t)
	apiSrv, api := space(t)
	a := startLeader(t, api, rds.URL)
	b := start(t, api, rds.URL)
	b.until("the follower serves from Redis", 10*time.Second, func() bool { return b.status("/readyz") == 200 && b.serves("p1", 1) })

	if err := apiSrv.Put(post("p1", 2)); err != nil { // no webhook tells anyone
		t.Fatal(err)
	}
	a.kill()
	leader(t, b)
	b.until("the change made while no webhook came", 20*time.Second, func() bool { return b.serves("p1", 2) })
}
