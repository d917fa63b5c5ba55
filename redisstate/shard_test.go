package redisstate

import (
	"strconv"
	"testing"
	"time"

	"github.com/folio-cms/folio/internal/redistest"
)

// TestClusterShardDownIsOneOutage: a Cluster node dies (no replica takes
// over) that holds one of folio's key groups but not the lease's. Until the
// node comes back Redis is one outage for the leader: it stays down and
// leads no more (commands on the live shards, and a PING a live node
// answers, do not bring it back up, which made the leader lead anew and
// refetch everything every few hundred milliseconds, and log the outage
// each time), and it leads anew once the node returns.
func TestClusterShardDownIsOneOutage(t *testing.T) {
	c := redistest.StartCluster(t)
	s := newStateAt(t, c.URL)
	calls := run(t, s.NewQueue(&fakeLocal{}))
	waitFor(t, "the lead", func() bool { return calls.Load() == 1 })

	owner := func(key string) *redistest.Server {
		slot, _ := strconv.Atoi(c.Do(t, "CLUSTER", "KEYSLOT", key))
		return c.Nodes[min(slot*3/16384, 2)] // StartCluster's thirds
	}
	var victim *redistest.Server
	for _, k := range s.probeKeys() {
		if o := owner(k); o != owner(s.keys.lease) {
			victim = o
		}
	}
	if victim == nil {
		t.Fatal("every key group is on the lease's node: the test needs one elsewhere")
	}
	victim.Kill()
	waitFor(t, "the outage", func() bool { return !s.Up() })
	// Past the cluster's node timeout (5 s): the live nodes answer
	// CLUSTERDOWN to keyed commands, PING still.
	for end := time.Now().Add(7 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if s.Up() || s.Leader() {
			t.Fatalf("up %v, leader %v while a shard is down (onLeader ran %d times)", s.Up(), s.Leader(), calls.Load())
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("onLeader ran %d times while a shard was down, want once (before)", n)
	}
	victim.Restart(t)
	// The cluster takes the node back by gossip, after its node timeout
	// (~6 s here when quiet): under make test's load that passed 10 s.
	waitWithin(t, 45*time.Second, "the lead after the node's return", func() bool { return calls.Load() >= 2 && s.Up() && s.Leader() })
}
