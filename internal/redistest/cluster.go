package redistest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// clusterSlots is the number of hash slots of a Redis Cluster
// (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/).
const clusterSlots = 16384

// Cluster is a three-node Redis Cluster: three masters, each serving a
// third of the hash slots, no replicas. Each node is a redis-server child
// (cluster-enabled, its cluster bus on a free port of its own) on a free
// loopback port and temporary directory, stopped by the test's cleanup.
type Cluster struct {
	// URL is the cluster as folio's REDIS_URL takes it (go-redis's
	// cluster form): "redis://<node 1>?addr=<node 2>&addr=<node 3>".
	URL string
	// Nodes are the three masters, in slot order: the first serves slots
	// 0-5460, the second 5461-10922, the third 10923-16383.
	Nodes []*Server
}

// StartCluster starts three cluster-enabled servers, gives each a third
// of the slots and a distinct config epoch, introduces them (CLUSTER MEET),
// as `redis-cli --cluster create` does, and returns once every node says
// cluster_state:ok and knows the three. A missing redis-server fails the
// test, as Start does; so does a cluster that does not form within 30 s,
// with every node's log.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	c := &Cluster{}
	for range 3 {
		c.Nodes = append(c.Nodes, start(t, nil, func(t testing.TB, s *Server) []string {
			return []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(FreePort(t)), "--cluster-node-timeout", "5000"}
		}))
	}
	for i, n := range c.Nodes {
		lo, hi := i*clusterSlots/3, (i+1)*clusterSlots/3-1
		if i == len(c.Nodes)-1 {
			hi = clusterSlots - 1
		}
		c.must(t, n, "CLUSTER", "SET-CONFIG-EPOCH", strconv.Itoa(i+1))
		c.must(t, n, "CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(lo), strconv.Itoa(hi))
	}
	for _, n := range c.Nodes[1:] {
		// The bus port is not the default (port + 10000): MEET names it.
		bus := n.extra[slices.Index(n.extra, "--cluster-port")+1]
		c.must(t, c.Nodes[0], "CLUSTER", "MEET", "127.0.0.1", strconv.Itoa(n.Port), bus)
	}
	addrs := make([]string, len(c.Nodes)-1)
	for i, n := range c.Nodes[1:] {
		addrs[i] = "addr=" + n.Addr
	}
	c.URL = "redis://" + c.Nodes[0].Addr + "?" + strings.Join(addrs, "&")
	last := waitState(topologyTimeout, func() string {
		for _, n := range c.Nodes {
			info := tryDo(n, "CLUSTER", "INFO")
			if state, known := infoField(info, "cluster_state"), infoField(info, "cluster_known_nodes"); state != "ok" || known != "3" {
				return fmt.Sprintf("node %s: cluster_state %q, %q known nodes", n.Addr, state, known)
			}
		}
		return ""
	})
	if last != "" {
		t.Fatalf("redistest: the cluster did not form within %v: %s%s", topologyTimeout, last, c.logs())
	}
	return c
}

// must sends a command to node n and fails the test unless it answers OK.
func (c *Cluster) must(t testing.TB, n *Server, args ...string) {
	t.Helper()
	if reply := n.Do(t, args...); reply != "OK" {
		t.Fatalf("redistest: %s on %s: %s%s", strings.Join(args, " "), n.Addr, reply, c.logs())
	}
}

// Do sends one command to the node that serves its key (args[1]), as
// Server.Do does to one server: it asks the first node and follows a MOVED
// redirection once. A command without a key goes to the first node.
func (c *Cluster) Do(t testing.TB, args ...string) string {
	t.Helper()
	reply := c.Nodes[0].Do(t, args...)
	if moved, ok := strings.CutPrefix(reply, "(error) MOVED "); ok {
		_, addr, _ := strings.Cut(moved, " ")
		for _, n := range c.Nodes {
			if n.Addr == addr {
				return n.Do(t, args...)
			}
		}
		t.Fatalf("redistest: %s: MOVED to %s, not a node of the cluster", strings.Join(args, " "), addr)
	}
	return reply
}

// FlushAll empties every node, as FLUSHALL empties one server: the data
// loss a cluster suffers when its nodes restart without persistence.
func (c *Cluster) FlushAll(t testing.TB) {
	t.Helper()
	for _, n := range c.Nodes {
		if reply := n.Do(t, "FLUSHALL"); reply != "OK" {
			t.Fatalf("redistest: FLUSHALL on %s: %s", n.Addr, reply)
		}
	}
}

// logs is every node's log, for failure messages.
func (c *Cluster) logs() string {
	var b strings.Builder
	for _, n := range c.Nodes {
		fmt.Fprintf(&b, "\n=== %s%s", n.Addr, n.logs())
	}
	return b.String()
}
