package redisstate

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/internal/redistest"
	"github.com/folio-cms/folio/refresh"
)

// newState connects to rds with a 1 s lease and closes the state when the
// test ends.
func newState(t *testing.T, rds *redistest.Server) *State {
	t.Helper()
	return newStateLeasing(t, rds, time.Second)
}

// newStateLeasing is newState with another lease TTL: a test that counts
// commands or saves between lease renewals takes a long one, so a slow
// machine (the race detector, CI) does not lose the lease meanwhile.
func newStateLeasing(t *testing.T, rds *redistest.Server, ttl time.Duration) *State {
	t.Helper()
	s, err := New(Options{URL: rds.URL, LeaseTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// startLeader starts a server and a State that leads and has stored
// part(1).
func startLeader(t *testing.T) (*redistest.Server, *State) {
	t.Helper()
	rds := redistest.Start(t)
	s := newState(t, rds)
	if !leads(t, s) {
		t.Fatal("could not take the lease")
	}
	if err := s.SavePart(context.Background(), part(1)); err != nil {
		t.Fatal(err)
	}
	return rds, s
}

// leads renews or takes s's lease and reports whether s leads.
func leads(t *testing.T, s *State) bool {
	t.Helper()
	return s.holdLease(context.Background()).held
}

// waitFor polls cond every 10 ms and fails the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 10*time.Second, what, cond)
}

// waitWithin is waitFor with another bound, for what waits on Redis's own
// timers (a Cluster's node timeout and gossip) on a loaded machine.
func waitWithin(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// follow runs s.Follow into a new store, checking the pointers every 50 ms,
// until the test ends; it returns once the first look is over.
func follow(t *testing.T, s *State) *cache.Store {
	t.Helper()
	store := &cache.Store{}
	ctx, cancel := context.WithCancel(context.Background())
	done, synced := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		s.Follow(ctx, 50*time.Millisecond, func(p *cache.Part) { store.Put(p) }, synced)
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-synced
	return store
}

// servedRev is the revision of Entry:me in store's CV, -1 if none.
func servedRev(store *cache.Store) int {
	if snap := store.Load(); snap != nil && snap.CV != nil {
		return snap.CV.Refs["Entry:me"]
	}
	return -1
}

// run runs q.Run until the test ends and counts onLeader's calls.
func run(t *testing.T, q *Queue) *atomic.Int32 {
	t.Helper()
	var calls atomic.Int32
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.Run(ctx, func() { calls.Add(1) })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return &calls
}

// fakeLocal is the process's own queue: it records what it is given.
type fakeLocal struct {
	mu       sync.Mutex
	enqueued []refresh.Event // accepted while Redis did not take them
	put      []refresh.Event // handed over from the stream
}

func (f *fakeLocal) Enqueue(_ context.Context, e refresh.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.enqueued = append(f.enqueued, e)
	return nil
}

func (f *fakeLocal) Put(_ context.Context, e refresh.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.put = append(f.put, e)
	return nil
}

func (f *fakeLocal) has(list *[]refresh.Event, id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.ContainsFunc(*list, func(e refresh.Event) bool { return e.ID == id })
}

// fillRedis makes rds refuse writes with OOM: noeviction, 2 MiB of
// values, then maxmemory 1 MiB below what it uses (so that no freed client
// buffer brings it back under), checked with one more write.
func fillRedis(t *testing.T, rds *redistest.Server) {
	t.Helper()
	rds.Do(t, "CONFIG", "SET", "maxmemory-policy", "noeviction")
	value := strings.Repeat("x", 64<<10)
	for i := range 32 {
		rds.Do(t, "SET", fmt.Sprintf("fill:%d", i), value)
	}
	used := -1
	for line := range strings.SplitSeq(rds.Do(t, "INFO", "memory"), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			used, _ = strconv.Atoi(v)
		}
	}
	if used <= 1<<20 {
		t.Fatalf("INFO memory: used_memory %d", used)
	}
	rds.Do(t, "CONFIG", "SET", "maxmemory", strconv.Itoa(used-1<<20))
	if reply := rds.Do(t, "SET", "one-more", "x"); !strings.HasPrefix(reply, "(error) OOM") {
		t.Fatalf("redis still takes writes: %s", reply)
	}
}
