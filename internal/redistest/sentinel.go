package redistest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// MasterName is the name the sentinels of StartSentinel monitor their
// primary under: the master_name of the REDIS_URL.
const MasterName = "folio"

// Sentinel timings: a primary that does not answer for downAfter is
// down (Sentinel's down-after-milliseconds; production uses seconds, a
// test a second); failoverTimeout is Sentinel's failover-timeout (a
// failover that stalls is retried after twice as long);
// topologyTimeout bounds each wait for the deployment to reach a state.
const (
	downAfter       = time.Second
	failoverTimeout = 5 * time.Second
	topologyTimeout = 30 * time.Second
	sentinelCount   = 3
	sentinelQuorum  = 2
)

// Sentinel is a Sentinel-managed deployment, as the Redis documentation
// describes it for high availability (https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/):
// a primary, one replica of it, and three sentinels that monitor the
// primary with a quorum of 2 and promote the replica when the primary is
// down. Every process is a redis-server child on its own free loopback
// port and temporary directory, with nothing kept on disk but the
// sentinels' configuration files (Sentinel rewrites its own), all stopped
// by the test's cleanup.
type Sentinel struct {
	// URL is the deployment as folio's REDIS_URL takes it (go-redis's
	// failover form): "redis://<sentinel 1>?master_name=folio&addr=<sentinel
	// 2>&addr=<sentinel 3>".
	URL string
	// Sentinels are the three sentinel processes.
	Sentinels []*Server

	mu sync.Mutex
	// primary and replica are the data servers as the sentinels last
	// named them.
	primary, replica *Server
}

// StartSentinel starts a primary, a replica of it and three sentinels, and
// returns once the replica is in sync, every sentinel names the primary,
// knows the replica and the two other sentinels: a failover can happen
// from then on. A missing redis-server fails the test, as Start does;
// so does a deployment that does not come together within 30 s, with the
// logs of every process.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	primary := start(t, nil, func(testing.TB, *Server) []string { return dataArgs(nil) })
	replica := start(t, nil, func(testing.TB, *Server) []string { return dataArgs(primary) })
	d := &Sentinel{primary: primary, replica: replica}
	for range sentinelCount {
		s := start(t, nil, func(t testing.TB, s *Server) []string {
			conf := filepath.Join(s.dir, "sentinel.conf")
			text := fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d\n"+
				"sentinel down-after-milliseconds %[1]s %[4]d\n"+
				"sentinel failover-timeout %[1]s %[5]d\n"+
				"sentinel parallel-syncs %[1]s 1\n",
				MasterName, primary.Port, sentinelQuorum, downAfter.Milliseconds(), failoverTimeout.Milliseconds())
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatalf("redistest: writing %s: %v", conf, err)
			}
			s.first = []string{conf, "--sentinel"} // a sentinel reads its file first
			return nil
		})
		d.Sentinels = append(d.Sentinels, s)
	}
	addrs := make([]string, len(d.Sentinels))
	for i, s := range d.Sentinels {
		addrs[i] = "addr=" + s.Addr
	}
	d.URL = "redis://" + d.Sentinels[0].Addr + "?master_name=" + MasterName + "&" + strings.Join(addrs[1:], "&")
	d.waitWhole(t, primary, replica)
	return d
}

// dataArgs are the arguments of a data server: a replica of primary, or a
// primary when primary is nil. A primary sends a replica its data at once
// (Redis waits 5 s by default for more replicas to share the transfer).
func dataArgs(primary *Server) []string {
	args := []string{"--repl-diskless-sync-delay", "0"}
	if primary != nil {
		args = append(args, "--replicaof", "127.0.0.1", strconv.Itoa(primary.Port))
	}
	return args
}

// Primary returns the server the sentinels name as the primary now.
func (d *Sentinel) Primary() *Server {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.primary
}

// Replica returns the server that replicates the primary now.
func (d *Sentinel) Replica() *Server {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.replica
}

// Failover fails the primary over the way an outage does: it kills the
// primary (SIGKILL, no shutdown), waits until the sentinels see it down,
// agree, elect one of them and promote the replica (about two seconds:
// downAfter, then the election and the promotion), then starts the old
// primary again, empty, as a replica of the new one, and waits until it is
// in sync and the sentinels know it, so that the deployment is whole again
// and can fail over once more. It returns the new primary. What the old
// primary had not yet sent to its replica when it died is lost, as in
// production: Redis replicates asynchronously.
func (d *Sentinel) Failover(t testing.TB) *Server {
	t.Helper()
	d.mu.Lock()
	old, next := d.primary, d.replica
	d.mu.Unlock()
	old.Kill()
	d.waitPrimary(t, next)
	old.extra = dataArgs(next)
	if err := old.launch(); err != nil {
		t.Fatalf("redistest: restarting the old primary as a replica: %v", err)
	}
	next.extra = dataArgs(nil) // were it restarted, it would start as a primary
	d.waitWhole(t, next, old)
	return next
}

// Switchover fails the primary over the way an operator does, with
// SENTINEL FAILOVER: the replica is promoted without waiting for the
// primary to be found down, and the old primary, still running, is made
// its replica (Sentinel closes the old primary's client connections when
// it reconfigures it, so they ask the sentinels again; clients that write
// to it before then get READONLY). It returns the new primary once the deployment is
// whole again. Writes the old primary took after its replica last heard
// from it are lost here too.
func (d *Sentinel) Switchover(t testing.TB) *Server {
	t.Helper()
	d.mu.Lock()
	old, next := d.primary, d.replica
	d.mu.Unlock()
	if reply := d.Sentinels[0].Do(t, "SENTINEL", "FAILOVER", MasterName); reply != "OK" {
		t.Fatalf("redistest: SENTINEL FAILOVER: %s", reply)
	}
	d.waitPrimary(t, next)
	// Sentinel turns the old primary into a replica when it next asks it
	// for INFO, up to 10 s later; this does the same at once.
	if reply := old.Do(t, "REPLICAOF", "127.0.0.1", strconv.Itoa(next.Port)); reply != "OK" {
		t.Fatalf("redistest: REPLICAOF on the old primary: %s", reply)
	}
	old.extra, next.extra = dataArgs(next), dataArgs(nil)
	d.waitWhole(t, next, old)
	return next
}

// waitPrimary waits until every sentinel names primary and primary says it
// is a master.
func (d *Sentinel) waitPrimary(t testing.TB, primary *Server) {
	t.Helper()
	d.wait(t, "the sentinels to promote "+primary.Addr, func() string {
		if role := firstLine(tryDo(primary, "ROLE")); role != "master" {
			return primary.Addr + " is " + role
		}
		for _, s := range d.Sentinels {
			got := strings.ReplaceAll(tryDo(s, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName), "\n", ":")
			if got != primary.Addr {
				return "sentinel " + s.Addr + " names " + got
			}
		}
		return ""
	})
	d.mu.Lock()
	d.primary = primary
	d.mu.Unlock()
}

// waitWhole waits until replica is in sync with primary and every sentinel
// names primary, knows replica as up and the other sentinels.
func (d *Sentinel) waitWhole(t testing.TB, primary, replica *Server) {
	t.Helper()
	d.waitPrimary(t, primary)
	d.wait(t, "the deployment to be whole", func() string {
		if link := infoField(tryDo(replica, "INFO", "replication"), "master_link_status"); link != "up" {
			return replica.Addr + "'s link to the primary is " + link
		}
		for _, s := range d.Sentinels {
			replicas := tryDo(s, "SENTINEL", "REPLICAS", MasterName)
			if !strings.Contains(replicas, "\n"+replica.Addr+"\n") || strings.Contains(replicas, "s_down") ||
				strings.Contains(replicas, "disconnected") {
				return "sentinel " + s.Addr + " does not know " + replica.Addr + " as up"
			}
			if n := strings.Count(tryDo(s, "SENTINEL", "SENTINELS", MasterName), "\nrunid\n"); n != len(d.Sentinels)-1 {
				return fmt.Sprintf("sentinel %s knows %d other sentinels", s.Addr, n)
			}
		}
		return ""
	})
	d.mu.Lock()
	d.primary, d.replica = primary, replica
	d.mu.Unlock()
}

// wait polls state until it returns "" (the state wanted), failing the
// test after topologyTimeout with its last answer and every process's log.
func (d *Sentinel) wait(t testing.TB, what string, state func() string) {
	t.Helper()
	last := waitState(topologyTimeout, state)
	if last == "" {
		return
	}
	var logs strings.Builder
	for _, s := range append([]*Server{d.primary, d.replica}, d.Sentinels...) {
		fmt.Fprintf(&logs, "\n=== %s%s", s.Addr, s.logs())
	}
	t.Fatalf("redistest: timed out after %v waiting for %s: %s%s", topologyTimeout, what, last, logs.String())
}

// waitState polls state every pollInterval until it returns "" or limit
// passes, and returns its last answer.
func waitState(limit time.Duration, state func() string) string {
	deadline := time.Now().Add(limit)
	for {
		last := state()
		if last == "" || time.Now().After(deadline) {
			return last
		}
		time.Sleep(pollInterval)
	}
}

// tryDo is Do for polls: an error (a server that is down) is its reply.
func tryDo(s *Server, args ...string) string {
	reply, err := roundTrip(s.Addr, args, ioTimeout)
	if err != nil {
		return "(unreachable) " + err.Error()
	}
	return reply
}

// firstLine is the first line of a reply.
func firstLine(reply string) string {
	line, _, _ := strings.Cut(reply, "\n")
	return line
}

// infoField returns the value of one field of an INFO reply ("" when
// absent).
func infoField(info, field string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			return v
		}
	}
	return ""
}
