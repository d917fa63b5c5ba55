package redisstate

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/internal/redistest"
	"github.com/folio-cms/folio/refresh"
	"github.com/redis/go-redis/v9"
)

// topology is a Redis deployment folio may be given: its REDIS_URL, and
// what a test does to it by hand.
type topology struct {
	url string
	// do sends one command to the server (the node) that holds its key.
	do func(t *testing.T, args ...string) string
	// flushAll loses every key, as a restart without persistence does.
	flushAll func(t *testing.T)
	// subscribers counts the subscribers of a channel on every data server.
	subscribers func(t *testing.T, channel string) int
}

func sentinelTopology(t *testing.T) (*redistest.Sentinel, topology) {
	d := redistest.StartSentinel(t)
	return d, topology{
		url:      d.URL,
		do:       func(t *testing.T, args ...string) string { return d.Primary().Do(t, args...) },
		flushAll: func(t *testing.T) { d.Primary().Do(t, "FLUSHALL") },
		subscribers: func(t *testing.T, channel string) int {
			return numsub(t, channel, d.Primary(), d.Replica())
		},
	}
}

func clusterTopology(t *testing.T) topology {
	c := redistest.StartCluster(t)
	return topology{
		url:         c.URL,
		do:          func(t *testing.T, args ...string) string { return c.Do(t, args...) },
		flushAll:    func(t *testing.T) { c.FlushAll(t) },
		subscribers: func(t *testing.T, channel string) int { return numsub(t, channel, c.Nodes...) },
	}
}

// numsub adds up PUBSUB NUMSUB of channel on each server.
func numsub(t *testing.T, channel string, servers ...*redistest.Server) int {
	n := 0
	for _, s := range servers {
		reply := strings.Split(s.Do(t, "PUBSUB", "NUMSUB", channel), "\n")
		k, _ := strconv.Atoi(reply[len(reply)-1])
		n += k
	}
	return n
}

// newStateAt connects to url with a 1 s lease and a 200 ms claim bound.
func newStateAt(t *testing.T, url string) *State {
	t.Helper()
	s, err := New(Options{URL: url, LeaseTTL: time.Second, ClaimIdle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// followOnlyAnnounced is follow without the periodic look: a part reaches
// the store only through the updates channel. It returns once s has
// subscribed.
func followOnlyAnnounced(t *testing.T, topo topology, s *State) *cache.Store {
	t.Helper()
	store := &cache.Store{}
	ctx, cancel := context.WithCancel(context.Background())
	done, synced := make(chan struct{}), make(chan struct{})
	before := topo.subscribers(t, s.keys.updates)
	go func() {
		defer close(done)
		s.Follow(ctx, time.Hour, func(p *cache.Part) { store.Put(p) }, synced)
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-synced
	waitFor(t, "the subscription", func() bool { return topo.subscribers(t, s.keys.updates) > before })
	return store
}

// TestSentinelURLCredentials: in a Sentinel URL the userinfo logs in to the
// sentinels and ?password= to the primary (go-redis's ParseFailoverURL, as
// the README says), and neither appears in an error about the URL.
func TestSentinelURLCredentials(t *testing.T) {
	o, err := redis.ParseFailoverURL("redis://sentuser:sentpw@s1:26379?master_name=m&username=u&password=datapw&addr=s2:26379")
	if err != nil {
		t.Fatal(err)
	}
	if o.SentinelUsername != "sentuser" || o.SentinelPassword != "sentpw" || o.Username != "u" || o.Password != "datapw" {
		t.Fatalf("sentinels %q/%q, primary %q/%q", o.SentinelUsername, o.SentinelPassword, o.Username, o.Password)
	}
	for _, bad := range []string{
		"redis://:sentpw@s1:26379?master_name=m&password=datapw&db=datapw",
		"redis://:sentpw@s1:26379?master_name=m&password=datapw&max_retries=sentpw",
	} {
		if _, err := newClient(bad); err == nil || strings.Contains(err.Error(), "datapw") || strings.Contains(err.Error(), "sentpw") {
			t.Errorf("an error reveals a password: %v", err)
		}
	}
}

// TestTopologies runs every Redis operation folio makes on a Sentinel
// deployment and on a three-node Cluster, through the URL forms the README
// documents: the lease and the marker (a script on two keys), a part's
// save (a script on keys it builds from its arguments, pipelines of EXISTS
// and SET) and load (MGET), the updates channel, the stream (XADD,
// XREADGROUP, XAUTOCLAIM, XACK), deduplication, the event history's
// scripts, and the catch-up after the data loss. On a Cluster every group
// of keys shares a hash tag, so nothing is refused with CROSSSLOT.
func TestTopologies(t *testing.T) {
	t.Run("sentinel", func(t *testing.T) {
		t.Parallel()
		_, topo := sentinelTopology(t)
		checkTopology(t, topo)
	})
	t.Run("cluster", func(t *testing.T) {
		t.Parallel()
		checkTopology(t, clusterTopology(t))
	})
}

func checkTopology(t *testing.T, topo topology) {
	ctx := context.Background()
	a, b := newStateAt(t, topo.url), newStateAt(t, topo.url)
	if !leads(t, a) || leads(t, b) {
		t.Fatal("exactly one process must lead")
	}

	// Snapshots: saved by the leader, announced, loaded by the follower.
	store := followOnlyAnnounced(t, topo, b)
	for _, rev := range []int{1, 2} {
		if err := a.SavePart(ctx, part(rev)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the follower to load revision "+strconv.Itoa(rev), func() bool { return servedRev(store) == rev })
	}

	// Events: one a dead consumer read and never acknowledged is claimed;
	// one any replica adds is read by the leader; both acknowledged.
	localA, localB := &fakeLocal{}, &fakeLocal{}
	qa, qb := a.NewQueue(localA), b.NewQueue(localB)
	if err := qb.createGroup(ctx); err != nil {
		t.Fatal(err)
	}
	orphan := refresh.Event{ID: "orphan", Collections: []cache.Collection{cache.CV}}
	if err := qb.Enqueue(ctx, orphan); err != nil {
		t.Fatal(err)
	}
	if err := b.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "dead",
		Streams: []string{b.keys.stream, ">"}, Count: 1}).Err(); err != nil {
		t.Fatal(err)
	}
	calls := run(t, qa)
	waitFor(t, "the leader to claim the orphan", func() bool { return localA.has(&localA.put, orphan.ID) })
	fresh := refresh.Event{ID: "fresh", Collections: []cache.Collection{cache.CV}}
	if err := qb.Enqueue(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the leader to read the event", func() bool { return localA.has(&localA.put, fresh.ID) })
	localA.mu.Lock()
	localB.mu.Lock()
	held := len(localA.enqueued) + len(localB.enqueued)
	localB.mu.Unlock()
	if held > 0 {
		localA.mu.Unlock()
		t.Fatal("an event was held in memory: Redis refused it")
	}
	put := append([]refresh.Event(nil), localA.put...)
	localA.mu.Unlock()
	for _, e := range put {
		qa.Ack(refresh.Record{Event: e, Outcome: refresh.Done, Persisted: true})
	}
	if n := a.rdb.XPending(ctx, a.keys.stream, group).Val().Count; n != 0 {
		t.Fatalf("%d events still pending after their acknowledgements", n)
	}

	// Deduplication: shared by every replica.
	da := a.NewDedup(time.Minute, refresh.NewMemoryDedup(time.Minute, 100))
	db := b.NewDedup(time.Minute, refresh.NewMemoryDedup(time.Minute, 100))
	if first, _ := da.First(ctx, "change"); !first {
		t.Fatal("a new change is a duplicate")
	}
	if first, _ := db.First(ctx, "change"); first {
		t.Fatal("a change another replica took is not a duplicate")
	}

	// The event history: written by one, read and taken by the other.
	_, ha := newHistory(t, a, refresh.Retention{Events: 10})
	_, hb := newHistory(t, b, refresh.Retention{Events: 10})
	now := time.Now().UTC()
	ha.Put(refresh.Record{Event: refresh.Event{ID: "e1", ReceivedAt: now}, Outcome: refresh.Done, UpdatedAt: now})
	ha.PutDead(refresh.Record{Event: refresh.Event{ID: "d1", ReceivedAt: now}, Outcome: refresh.Dead, UpdatedAt: now})
	waitFor(t, "the history on the other replica", func() bool {
		v := hb.Read(ctx, 10)
		return v.Source == refresh.SourceRedis && len(v.Events) == 1 && len(v.DeadLetters) == 1
	})
	if _, ok, err := hb.TakeDead(ctx, "d1"); !ok || err != nil {
		t.Fatalf("the dead letter was not taken: %v %v", ok, err)
	}
	if _, ok, err := ha.TakeDead(ctx, "d1"); ok || err != nil {
		t.Fatalf("a dead letter was taken twice: %v %v", ok, err)
	}

	for _, s := range []*State{a, b} {
		if st := s.Status(); st.LastCommandError != "" {
			t.Errorf("%s: a command was refused: %s", s.id, st.LastCommandError)
		}
	}

	// Data loss: the leader notices and catches up again; what it saves
	// then reaches the follower.
	before := calls.Load()
	topo.flushAll(t)
	waitFor(t, "the catch-up after the data loss", func() bool { return calls.Load() > before })
	waitFor(t, "the leader to lead again", func() bool { return a.Leader() })
	if err := a.SavePart(ctx, part(3)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to load revision 3", func() bool { return servedRev(store) == 3 })
}

// TestSentinelFailover: a leader and a follower run through two failovers.
// First the primary dies: once the sentinels promote the replica, the
// clients find it through the sentinels, a process leads again and catches
// up (the failover was an outage, and writes may have been lost). Then an
// operator's SENTINEL FAILOVER: the old primary lives on as a replica, and
// a write that reaches it is refused with READONLY (an outage) until the
// clients move. After each, the leader's next snapshot reaches the other
// process, and an event the other adds reaches the leader.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	d, topo := sentinelTopology(t)
	ctx := context.Background()
	a, b := newStateAt(t, topo.url), newStateAt(t, topo.url)
	localA, localB := &fakeLocal{}, &fakeLocal{}
	qa, qb := a.NewQueue(localA), b.NewQueue(localB)
	callsA := run(t, qa)
	waitFor(t, "a to lead and catch up", func() bool { return callsA.Load() == 1 })
	callsB := run(t, qb)
	storeA, storeB := follow(t, a), follow(t, b)
	if err := a.SavePart(ctx, part(1)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to serve revision 1", func() bool { return servedRev(storeB) == 1 })

	for i, fail := range []func(testing.TB) *redistest.Server{d.Failover, d.Switchover} {
		rev := i + 2
		before := callsA.Load() + callsB.Load()
		fail(t)

		waitFor(t, "a leader after the failover", func() bool { return (a.Leader() || b.Leader()) && a.Up() && b.Up() })
		if i == 0 {
			waitFor(t, "the leader's catch-up", func() bool { return callsA.Load()+callsB.Load() > before })
		}
		// A save may meet the old primary (READONLY) or a lease that moved
		// meanwhile: the refresh side tries again with the next event.
		// The other process: the one that did not store it.
		var otherStore *cache.Store
		var otherQueue *Queue
		waitFor(t, "a save after the failover", func() bool {
			lead := a
			otherStore, otherQueue = storeB, qb
			if b.Leader() {
				lead, otherStore, otherQueue = b, storeA, qa
			}
			return lead.SavePart(ctx, part(rev)) == nil
		})
		waitFor(t, "the other process to serve revision "+strconv.Itoa(rev), func() bool { return servedRev(otherStore) == rev })
		// Added through the other's running queue: held in memory and
		// handed to the stream later, should Redis be away for it.
		ev := refresh.Event{ID: "after-failover-" + strconv.Itoa(rev), Collections: []cache.Collection{cache.CV}}
		if err := otherQueue.Enqueue(ctx, ev); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the leader to read the event added after the failover", func() bool {
			return localA.has(&localA.put, ev.ID) || localB.has(&localB.put, ev.ID)
		})
	}
}

// TestLeaderNoticesLostWrites: a failover to a replica that had not
// received the primary's last writes takes the pointer back to an older
// part while the marker and the lease survive. The leader, which kept its
// lease, sees its own write gone at its next renewal, catches up once, and
// its catch-up's save moves the pointer forward again.
func TestLeaderNoticesLostWrites(t *testing.T) {
	ctx := context.Background()
	rds, s := startLeader(t)
	older := s.holds(cache.CV)
	if err := s.SavePart(ctx, part(2)); err != nil {
		t.Fatal(err)
	}
	calls := run(t, s.NewQueue(&fakeLocal{}))
	// The lost write: the pointer names the part before it.
	rds.Do(t, "HSET", s.keys.current, string(cache.CV), older)
	waitFor(t, "the catch-up after the lost write", func() bool { return calls.Load() == 1 })
	if s.Status().DataLossAt.IsZero() {
		t.Error("the lost writes are not in the status")
	}
	if err := s.SavePart(ctx, part(3)); err != nil {
		t.Fatal(err)
	}
	// Three renewals later, the loss is still reported once.
	time.Sleep(s.opts.LeaseTTL)
	if n := calls.Load(); n != 1 {
		t.Fatalf("onLeader ran %d times, want 1: one loss, one catch-up", n)
	}
	if got := rds.Do(t, "HGET", s.keys.current, string(cache.CV)); got != s.holds(cache.CV) {
		t.Fatalf("the pointer names %s, not the part saved after the catch-up (%s)", got, s.holds(cache.CV))
	}
}

// TestSaveDuringRenewalIsNoRollback: the lease script reads the pointers,
// then, before the renewal compares them with what the leader holds, the
// leader's own save publishes a newer part. The pointers read are behind
// what it now holds, and that is no loss. (The renewal took each save of a
// burst of webhooks for lost writes, and each catch-up's saves for more:
// the leader refetched everything dozens of times in seconds.)
func TestSaveDuringRenewalIsNoRollback(t *testing.T) {
	ctx := context.Background()
	rds, s := startLeader(t)
	before := s.heldVersions()
	current := map[string]string{string(cache.CV): rds.Do(t, "HGET", s.keys.current, string(cache.CV))}
	if err := s.SavePart(ctx, part(2)); err != nil { // between the script and the comparison
		t.Fatal(err)
	}
	if s.rolledBack(before, current) {
		t.Fatal("the leader's own save during the renewal was taken for lost writes")
	}
	// What it held across the renewal, behind in Redis, is a loss.
	before = s.heldVersions()
	if !s.rolledBack(before, current) {
		t.Fatal("a pointer behind the part saved before the renewal is not a loss")
	}
}
