package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/internal/redistest"
)

// The Redis deployments users outgrow a single server into, each with the
// three-replica scenario of TestThreeReplicasOneFetch: a webhook to one
// replica, every replica serves the change, and the Delivery API is asked
// once for it.

// TestThreeReplicasOnSentinel: three replicas share a Sentinel deployment
// whose primary dies after they loaded. The sentinels promote the replica,
// every folio finds it through the sentinels, one leads and catches up;
// then a webhook to a follower reaches all three with one fetch. A second
// failover while the leader fetches for a webhook (the primary killed
// between the 202 and the save) still ends with every replica serving it,
// the event done once in the shared history.
func TestThreeReplicasOnSentinel(t *testing.T) {
	d := redistest.StartSentinel(t)
	apiSrv, api := space(t)
	fs, _, _ := replicas(t, api, d.URL)
	settled(t, apiSrv, fs)

	d.Failover(t)
	settled(t, apiSrv, fs)
	oneFetch(t, apiSrv, fs, "p3")

	// A failover during the processing: the fetch for the webhook takes
	// long enough for the primary to die and the replica to be promoted
	// before the leader stores what it fetched.
	if err := apiSrv.Put(post("p4", 2)); err != nil {
		t.Fatal(err)
	}
	lead := leader(t, fs...)
	apiSrv.SetDelay(3 * time.Second)
	if code, body := follower(fs, lead).webhook("p4", 2, contentful.Publish); code != 202 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	lead.until("the fetch for the webhook", 10*time.Second, func() bool { return inFlight(apiSrv) > 0 })
	d.Failover(t)
	apiSrv.SetDelay(0)
	for _, f := range fs {
		f.until("the change sent before the failover on every replica", 30*time.Second, func() bool { return f.serves("p4", 2) })
	}
	fs[0].until("the event done once in the shared history", 30*time.Second, func() bool {
		done := 0
		for _, e := range fs[0].events() {
			if e.Entity == "Entry:p4" && e.Revision == 2 && e.Outcome == "done" {
				done++
			}
		}
		return done == 1
	})
}

// TestThreeReplicasOnCluster: three replicas share a three-node Redis
// Cluster: the keys of each group sit on one node (hash tags), the updates
// channel reaches every node's subscribers, and a webhook to a follower
// reaches all three with one fetch.
func TestThreeReplicasOnCluster(t *testing.T) {
	c := redistest.StartCluster(t)
	apiSrv, api := space(t)
	fs, _, _ := replicas(t, api, c.URL)
	settled(t, apiSrv, fs)
	oneFetch(t, apiSrv, fs, "p3")
}

// settled waits until every replica is connected to Redis, one leads and
// the Delivery API has no request in flight for a while (the leader's
// catch-up is over, its parts stored), then forgets the requests seen.
func settled(t *testing.T, apiSrv *localapi.Server, fs []*folio) {
	t.Helper()
	for _, f := range fs {
		f.until("connected to redis", 30*time.Second, func() bool {
			var st struct{ Redis struct{ Connected bool } }
			_, body := f.get("/status")
			return json.Unmarshal([]byte(body), &st) == nil && st.Redis.Connected
		})
	}
	lead := leader(t, fs...)
	quiet := time.Time{}
	lead.until("the catch-up's fetches and saves", 30*time.Second, func() bool {
		busy := inFlight(apiSrv) > 0 || !strings.Contains(lead.logs.String(), "redis: snapshot saved")
		switch {
		case busy:
			quiet = time.Time{}
		case quiet.IsZero():
			quiet = time.Now()
		}
		return !quiet.IsZero() && time.Since(quiet) > 500*time.Millisecond
	})
	apiSrv.Reset()
}

// oneFetch publishes revision 2 of id, sends the webhook to a follower,
// waits until every replica serves it, and checks that the Delivery API
// was asked once, for the blog alone.
func oneFetch(t *testing.T, apiSrv *localapi.Server, fs []*folio, id string) {
	t.Helper()
	if err := apiSrv.Put(post(id, 2)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if code, body := follower(fs, leader(t, fs...)).webhook(id, 2, contentful.Publish); code != 202 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	for _, f := range fs {
		f.until("the new revision on every replica", 10*time.Second, func() bool { return f.serves(id, 2) })
	}
	t.Logf("a change reached all three replicas in %v", time.Since(start))
	if n, c := blogFetches(apiSrv), cvFetches(apiSrv); n != 1 || c != 0 {
		t.Fatalf("the Delivery API saw %d blog and %d CV fetches, want 1 and 0", n, c)
	}
}

// follower is a replica of fs that is not lead.
func follower(fs []*folio, lead *folio) *folio {
	if fs[0] == lead {
		return fs[1]
	}
	return fs[0]
}

// inFlight counts the Delivery API requests not yet answered.
func inFlight(apiSrv *localapi.Server) int {
	return apiSrv.Count(func(r localapi.Request) bool { return r.Status == 0 })
}
