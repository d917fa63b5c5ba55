package redisstate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/internal/redistest"
	"github.com/folio-cms/folio/refresh"
	"github.com/redis/go-redis/v9"
)

// replyErr is an error reply as a server sends it, for the replies a test
// cannot provoke from a lone redis-server.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want errKind
	}{
		{"success", nil, errNone},
		{"no such key", redis.Nil, errNone},
		{"caller gave up", context.Canceled, errCanceled},
		{"timeout", context.DeadlineExceeded, errOutage},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}, errOutage},
		{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("read: connection reset by peer")}, errOutage},
		{"EOF", io.EOF, errOutage},
		{"pool timeout", redis.ErrPoolTimeout, errOutage},
		{"client closed", redis.ErrClosed, errOutage},
		{"LOADING", replyErr("LOADING Redis is loading the dataset in memory"), errOutage},
		{"READONLY", replyErr("READONLY You can't write against a read only replica."), errOutage},
		{"MASTERDOWN", replyErr("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."), errOutage},
		{"CLUSTERDOWN", replyErr("CLUSTERDOWN The cluster is down"), errOutage},
		{"TRYAGAIN", replyErr("TRYAGAIN Multiple keys request during rehashing of slot"), errOutage},
		{"NOAUTH", replyErr("NOAUTH Authentication required."), errOutage},
		{"max clients", replyErr("ERR max number of clients reached"), errOutage},
		{"OOM", replyErr("OOM command not allowed when used memory > 'maxmemory'."), errCommand},
		{"NOGROUP", replyErr("NOGROUP No such key 'k' or consumer group 'g'"), errCommand},
		{"NOSCRIPT", redis.ErrNoScript, errCommand},
		{"WRONGTYPE", replyErr("WRONGTYPE Operation against a key holding the wrong kind of value"), errCommand},
		{"ERR", replyErr("ERR unknown command 'FOO'"), errCommand},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := classify(c.err); got != c.want {
				t.Errorf("classify(%v) = %d, want %d", c.err, got, c.want)
			}
		})
	}
}

// TestClassifyRealReplies checks the classification against the replies a
// real server sends, through go-redis.
func TestClassifyRealReplies(t *testing.T) {
	rds := redistest.Start(t)
	replica := redistest.Start(t)
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{Addr: rds.Addr, MaxRetries: -1})
	defer rdb.Close()
	rds.Do(t, "HSET", "h", "f", "v")
	// A replica refuses writes: READONLY (an outage: folio cannot write).
	replica.Do(t, "REPLICAOF", "127.0.0.1", fmt.Sprint(rds.Port))
	ro := redis.NewClient(&redis.Options{Addr: replica.Addr, MaxRetries: -1})
	defer ro.Close()
	down := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer down.Close()
	for _, c := range []struct {
		name string
		err  error
		want errKind
	}{
		{"WRONGTYPE", rdb.Get(ctx, "h").Err(), errCommand},
		{"NOGROUP", rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c", Streams: []string{"s", ">"}, Block: -1}).Err(), errCommand},
		{"NOSCRIPT", rdb.EvalSha(ctx, strings.Repeat("0", 40), nil).Err(), errCommand},
		{"unknown command", rdb.Do(ctx, "NOSUCHCOMMAND").Err(), errCommand},
		{"READONLY", ro.Set(ctx, "k", "v", 0).Err(), errOutage},
		{"connection refused", down.Ping(ctx).Err(), errOutage},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil {
				t.Fatal("the command succeeded")
			}
			if got := classify(c.err); got != c.want {
				t.Errorf("classify(%v) = %d, want %d", c.err, got, c.want)
			}
		})
	}
}

// TestFollowerLoadsAfterFlushAll: versions do not start again after Redis
// loses its data, so a follower that held version X before a FLUSHALL loads
// the part written after it instead of taking it for X.
func TestFollowerLoadsAfterFlushAll(t *testing.T) {
	ctx := context.Background()
	rds, leader := startLeader(t)
	follower := newState(t, rds)
	store := follow(t, follower)
	waitFor(t, "the follower to serve revision 1", func() bool { return servedRev(store) == 1 })
	before := follower.holds(cache.CV)

	rds.Do(t, "FLUSHALL")
	if l := leader.holdLease(ctx); !l.held || !l.acquired || !l.lost {
		t.Fatalf("after FLUSHALL the lease is free and the marker gone: %+v", l)
	}
	if err := leader.SavePart(ctx, part(2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to serve revision 2", func() bool { return servedRev(store) == 2 })
	if after := follower.holds(cache.CV); after == before {
		t.Fatalf("the version written after FLUSHALL repeats the one before: %s", after)
	}
}

// TestFollowerInstallsLowerRevisions: a forced refresh on the leader stores
// lower entity revisions (an operator restored older content); followers
// serve them, because the leader's decision is final.
func TestFollowerInstallsLowerRevisions(t *testing.T) {
	rds := redistest.Start(t)
	ctx := context.Background()
	leader, follower := newState(t, rds), newState(t, rds)
	if !leads(t, leader) {
		t.Fatal("the leader could not take the lease")
	}
	store := follow(t, follower)
	for _, rev := range []int{5, 3} {
		if err := leader.SavePart(ctx, part(rev)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, fmt.Sprintf("the follower to serve revision %d", rev), func() bool { return servedRev(store) == rev })
	}
	// Content the follower fetched itself (during an outage, say) gives
	// way to the leader's too.
	store.Put(part(9))
	if err := leader.SavePart(ctx, part(4)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the follower to serve revision 4", func() bool { return servedRev(store) == 4 })
}

// TestDataLossCatchesUp: whatever makes Redis lose folio's keys, the
// leader notices, recreates the consumer group, runs its catch-up again
// and takes events through the stream again.
func TestDataLossCatchesUp(t *testing.T) {
	for _, c := range []struct {
		name string
		lose func(t *testing.T, rds *redistest.Server, s *State)
	}{
		// The marker survives; XAUTOCLAIM/XREADGROUP answer NOGROUP.
		{"stream deleted (NOGROUP)", func(t *testing.T, rds *redistest.Server, s *State) { rds.Do(t, "DEL", s.keys.stream) }},
		// Every command keeps succeeding, and the lease is taken again
		// with SET: only the marker tells.
		{"FLUSHALL while leading", func(t *testing.T, rds *redistest.Server, s *State) { rds.Do(t, "FLUSHALL") }},
		{"restart without persistence", func(t *testing.T, rds *redistest.Server, s *State) { rds.Restart(t) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			rds := redistest.Start(t)
			s := newState(t, rds)
			local := &fakeLocal{}
			q := s.NewQueue(local)
			calls := run(t, q)
			waitFor(t, "the first catch-up", func() bool { return calls.Load() == 1 })

			c.lose(t, rds, s)
			waitFor(t, "the catch-up after the loss", func() bool { return calls.Load() == 2 })
			if s.Status().DataLossAt.IsZero() {
				t.Error("the data loss is not in the status")
			}
			if !strings.Contains(rds.Do(t, "XINFO", "GROUPS", s.keys.stream), group) {
				t.Error("the consumer group was not created again")
			}
			ev := refresh.Event{ID: "after-" + strings.ReplaceAll(c.name, " ", "-"), Collections: []cache.Collection{cache.CV}}
			if err := q.Enqueue(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the event to come through the stream", func() bool { return local.has(&local.put, ev.ID) })
			if n := calls.Load(); n != 2 {
				t.Errorf("onLeader ran %d times, want 2: one loss, one catch-up", n)
			}
			if !s.Up() || !s.Leader() {
				t.Errorf("up %v, leader %v", s.Up(), s.Leader())
			}
		})
	}
}

// TestOutOfMemory: a server that refuses writes (OOM) is up: events are
// held in memory and processed locally, stored parts fail so the event
// stays unacknowledged, deduplication falls back to memory, and the leader
// keeps its lease; once memory is freed the held events reach the stream.
func TestOutOfMemory(t *testing.T) {
	ctx := context.Background()
	rds, s := startLeader(t)
	local := &fakeLocal{}
	q := s.NewQueue(local)
	fillRedis(t, rds)

	ev := refresh.Event{ID: "during-oom", Collections: []cache.Collection{cache.CV}}
	if err := q.Enqueue(ctx, ev); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
	if !local.has(&local.enqueued, ev.ID) {
		t.Error("the refused event did not go to the local queue")
	}
	err := s.SavePart(ctx, part(2))
	if err == nil || errors.Is(err, ErrNotLeader) || !redis.IsOOMError(err) {
		t.Errorf("SavePart under OOM: %v", err)
	}
	if v, err := s.Versions(ctx); err != nil || v[cache.CV] != s.holds(cache.CV) {
		t.Errorf("the pointer moved to a part that was not written: %v %v", v, err)
	}
	if !leads(t, s) {
		t.Error("the leader could not renew its lease under OOM")
	}
	d := s.NewDedup(time.Minute, refresh.NewMemoryDedup(time.Minute, 10))
	if first, err := d.First(ctx, "k"); !first || err != nil {
		t.Errorf("dedup under OOM: %v %v", first, err)
	}
	if first, _ := d.First(ctx, "k"); first {
		t.Error("dedup under OOM forgot the key")
	}
	st := s.Status()
	if !s.Up() || st.Degraded || !s.Leader() || st.LastError != "" || !strings.HasPrefix(st.LastCommandError, "OOM") {
		t.Errorf("an OOM is not an outage: up %v, leader %v, status %+v", s.Up(), s.Leader(), st)
	}

	rds.Do(t, "CONFIG", "SET", "maxmemory", "0")
	q.flushHeld(ctx)
	if n := rds.Do(t, "XLEN", s.keys.stream); n != "1" {
		t.Errorf("the held event is not in the stream: XLEN %s", n)
	}
	if err := s.SavePart(ctx, part(2)); err != nil {
		t.Errorf("SavePart once memory is freed: %v", err)
	}
}

// TestScriptFlush: go-redis runs a script with EVALSHA and falls back to
// EVAL on NOSCRIPT, so an emptied script cache breaks none of folio's
// scripts.
func TestScriptFlush(t *testing.T) {
	ctx := context.Background()
	rds, s := startLeader(t) // every script is cached: EVALSHA is what runs
	for _, c := range []struct {
		name string
		run  func() error
	}{
		{"lease renewal", func() error {
			if l := s.holdLease(ctx); !l.held || l.acquired || l.lost {
				return fmt.Errorf("%+v", l)
			}
			return nil
		}},
		{"publish", func() error { return s.SavePart(ctx, part(2)) }},
		{"release", func() error {
			s.release(ctx)
			if v := rds.Do(t, "EXISTS", s.keys.lease); v != "0" {
				return errors.New("the lease is still there")
			}
			return nil
		}},
		{"lease taken", func() error {
			if l := s.holdLease(ctx); !l.held || !l.acquired || l.lost {
				return fmt.Errorf("%+v", l)
			}
			return nil
		}},
	} {
		rds.Do(t, "SCRIPT", "FLUSH")
		if err := c.run(); err != nil {
			t.Errorf("%s after SCRIPT FLUSH: %v", c.name, err)
		}
	}
	if st := s.Status(); !s.Up() || st.LastCommandError != "" || st.LastError != "" {
		t.Errorf("status after the scripts: %+v", st)
	}
}
