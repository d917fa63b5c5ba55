package redistest

import (
	"fmt"
	"strings"
	"testing"
)

// TestSentinelFailsOver checks the Sentinel deployment: the URL names the
// three sentinels and the master name, the primary replicates to the
// replica, and Failover promotes the replica with what it had and brings
// the old primary back as the new one's replica; then Switchover does the
// same the operator's way.
func TestSentinelFailsOver(t *testing.T) {
	t.Parallel()
	d := StartSentinel(t)
	for _, s := range d.Sentinels {
		if !strings.Contains(d.URL, s.Addr) {
			t.Errorf("URL %s does not name sentinel %s", d.URL, s.Addr)
		}
	}
	if !strings.Contains(d.URL, "master_name="+MasterName) {
		t.Errorf("URL %s has no master_name", d.URL)
	}
	for round := 1; round <= 2; round++ {
		old := d.Primary()
		key := fmt.Sprintf("k%d", round)
		if got := old.Do(t, "SET", key, "v"); got != "OK" {
			t.Fatalf("SET on the primary: %s", got)
		}
		if got := old.Do(t, "WAIT", "1", "5000"); got != "1" {
			t.Fatalf("the write did not reach the replica: WAIT said %s", got)
		}
		fail := d.Failover
		if round == 2 {
			fail = d.Switchover
		}
		next := fail(t)
		if next == old || d.Primary() != next || d.Replica() != old {
			t.Fatalf("round %d: primary %s, replica %s after failing %s over", round, d.Primary().Addr, d.Replica().Addr, old.Addr)
		}
		if got := next.Do(t, "GET", key); got != "v" {
			t.Fatalf("round %d: the new primary lost a replicated write: %q", round, got)
		}
		if got := next.Do(t, "SET", key, "w"); got != "OK" {
			t.Fatalf("round %d: the new primary refuses writes: %s", round, got)
		}
		if got := firstLine(old.Do(t, "ROLE")); got != "slave" {
			t.Fatalf("round %d: the old primary came back as %s", round, got)
		}
	}
}

// TestClusterServesEverySlot checks the three-node cluster: each node holds
// a third of the slots, Do follows a redirection to a key's node, keys of
// one hash tag sit on one node (a multi-key command on them works, across
// tags it is refused), and FlushAll empties every node.
func TestClusterServesEverySlot(t *testing.T) {
	t.Parallel()
	c := StartCluster(t)
	for _, n := range c.Nodes {
		if got := infoField(n.Do(t, "CLUSTER", "INFO"), "cluster_slots_assigned"); got != "16384" {
			t.Fatalf("node %s: %s slots assigned", n.Addr, got)
		}
		if !strings.Contains(c.URL, n.Addr) {
			t.Errorf("URL %s does not name node %s", c.URL, n.Addr)
		}
	}
	nodes := map[string]bool{}
	for i := range 30 {
		key := fmt.Sprintf("key%d", i)
		if got := c.Do(t, "SET", key, "v"); got != "OK" {
			t.Fatalf("SET %s: %s", key, got)
		}
		nodes[c.Do(t, "CLUSTER", "KEYSLOT", key)] = true
	}
	if got := c.Do(t, "MSET", "{a}x", "1", "{a}y", "2"); got != "OK" {
		t.Fatalf("MSET in one hash tag: %s", got)
	}
	if got := c.Do(t, "MSET", "{a}x", "1", "{b}y", "2"); !strings.HasPrefix(got, "(error) CROSSSLOT") {
		t.Fatalf("MSET across hash tags: %s, want CROSSSLOT", got)
	}
	c.FlushAll(t)
	for _, n := range c.Nodes {
		if got := n.Do(t, "DBSIZE"); got != "0" {
			t.Fatalf("node %s keeps %s keys after FlushAll", n.Addr, got)
		}
	}
}

// TestTopologyWithoutBinary: a missing redis-server fails a topology as it
// fails a server, with the instructions, never a skip.
func TestTopologyWithoutBinary(t *testing.T) {
	withBinary(t, "redis-server-that-does-not-exist")
	for name, start := range map[string]func(testing.TB){
		"sentinel": func(tb testing.TB) { StartSentinel(tb) },
		"cluster":  func(tb testing.TB) { StartCluster(tb) },
	} {
		if msg := expectFatal(t, start); !strings.Contains(msg, "apt-get install redis-server") {
			t.Errorf("%s: failure does not say how to install redis-server:\n%s", name, msg)
		}
	}
}
