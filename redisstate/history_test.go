package redisstate

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/internal/redistest"
	"github.com/folio-cms/folio/refresh"
)

// newHistory gives s a history over a new event log keeping keep, with
// its writer running until the test ends.
func newHistory(t *testing.T, s *State, keep refresh.Retention) (*refresh.EventLog, *History) {
	t.Helper()
	log := refresh.NewEventLog(keep)
	h := s.NewHistory(log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return log, h
}

// upState is newState once it has reached Redis (so writes are queued,
// not held for later).
func upState(t *testing.T, rds *redistest.Server) *State {
	t.Helper()
	s := newState(t, rds)
	if err := s.ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func event(id string, received time.Time) refresh.Event {
	return refresh.Event{ID: id, Topic: "ContentManagement.Entry.publish", Entity: contentful.Ref("Entry:" + id), Revision: 1,
		ReceivedAt: received.UTC()}
}

func ids(rs []refresh.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// outcome is the outcome of id in v's events, "" when absent.
func outcome(v refresh.View, id string) refresh.Outcome {
	for _, r := range v.Events {
		if r.ID == id {
			return r.Outcome
		}
	}
	return ""
}

// TestHistoryIsSharedAndOutlivesTheProcess: what one process records is
// what another reads, newest first, and what a third, started after both,
// reads too; dead letters likewise.
func TestHistoryIsSharedAndOutlivesTheProcess(t *testing.T) {
	rds := redistest.Start(t)
	keep := refresh.Retention{Events: 10, MaxAge: time.Hour}
	logA, _ := newHistory(t, upState(t, rds), keep)
	_, b := newHistory(t, upState(t, rds), keep)
	ctx := context.Background()

	now := time.Now()
	logA.Begin(event("evt_1", now.Add(-2*time.Second)))
	logA.Begin(event("evt_2", now.Add(-time.Second)))
	logA.Update("evt_1", func(r *refresh.Record) { r.Outcome = refresh.Done })
	logA.Update("evt_2", func(r *refresh.Record) { r.Outcome = refresh.Dead; r.Error = "the Delivery API answered 500" })
	waitFor(t, "b to read a's history", func() bool {
		v := b.Read(ctx, 10)
		return v.Source == refresh.SourceRedis && outcome(v, "evt_1") == refresh.Done && len(v.DeadLetters) == 1
	})
	v := b.Read(ctx, 10)
	if got := ids(v.Events); !slices.Equal(got, []string{"evt_2", "evt_1"}) {
		t.Errorf("events %v, want newest first", got)
	}
	if d := v.DeadLetters[0]; d.ID != "evt_2" || d.Error != "the Delivery API answered 500" || d.Outcome != refresh.Dead {
		t.Errorf("dead letter %+v", d)
	}
	if v.Retention != keep {
		t.Errorf("retention %+v", v.Retention)
	}

	_, c := newHistory(t, upState(t, rds), keep) // a restart: nothing in memory
	if got := c.Read(ctx, 10); !slices.Equal(ids(got.Events), ids(v.Events)) || len(got.DeadLetters) != 1 {
		t.Errorf("a new process reads %v and %d dead letters", ids(got.Events), len(got.DeadLetters))
	}
	if got := c.Read(ctx, 1); !slices.Equal(ids(got.Events), []string{"evt_2"}) {
		t.Errorf("a limit of 1 reads %v", ids(got.Events))
	}
}

// TestHistoryRetention: Redis keeps the newest events (and dead letters) up
// to the count, none received (or dead) before the age bound, and drops
// their records with them.
func TestHistoryRetention(t *testing.T) {
	rds := redistest.Start(t)
	s := upState(t, rds)
	log, h := newHistory(t, s, refresh.Retention{Events: 3, MaxAge: time.Hour})
	ctx := context.Background()
	now := time.Now()
	for i := range 5 {
		log.Begin(event(fmt.Sprintf("evt_%d", i), now.Add(time.Duration(i)*time.Second)))
	}
	waitFor(t, "the newest three", func() bool {
		return slices.Equal(ids(h.Read(ctx, 3).Events), []string{"evt_4", "evt_3", "evt_2"})
	})
	for _, key := range []string{"records", "revs"} {
		if n := rds.Do(t, "HLEN", "folio:{history}:"+key); n != "3" {
			t.Errorf("%s holds %s records, want 3", key, n)
		}
	}

	// By age: a record received before the bound is not read, and the
	// next write drops it.
	old := refresh.Record{Event: event("evt_old", now.Add(-2*time.Hour)), Outcome: refresh.Done, UpdatedAt: now}
	h.write(ctx, []historyWrite{{r: old}})
	if got := ids(h.Read(ctx, 3).Events); slices.Contains(got, "evt_old") {
		t.Errorf("an event past the age bound is read: %v", got)
	}
	if got := rds.Do(t, "HEXISTS", "folio:{history}:records", "evt_old"); got != "0" {
		t.Errorf("the record past the age bound is kept")
	}

	// Dead letters: by count, and by when they died.
	for i := range 4 {
		r := refresh.Record{Event: event(fmt.Sprintf("dead_%d", i), now), Outcome: refresh.Dead, UpdatedAt: now.Add(time.Duration(i) * time.Millisecond)}
		h.write(ctx, []historyWrite{{dead: true, r: r}})
	}
	h.write(ctx, []historyWrite{{dead: true, r: refresh.Record{Event: event("dead_old", now), Outcome: refresh.Dead, UpdatedAt: now.Add(-2 * time.Hour)}}})
	if got := ids(h.Read(ctx, 3).DeadLetters); !slices.Equal(got, []string{"dead_3", "dead_2", "dead_1"}) {
		t.Errorf("dead letters %v", got)
	}
	if n := rds.Do(t, "HLEN", "folio:{history}:deadrecs"); n != "3" {
		t.Errorf("%s dead letter records kept, want 3", n)
	}
}

// TestHistoryLaterChangeWins: of two processes' writes of one record, the
// later change stays, whatever order they reach Redis in; writers racing
// on many records leave each at its latest change.
func TestHistoryLaterChangeWins(t *testing.T) {
	rds := redistest.Start(t)
	a := upState(t, rds).NewHistory(refresh.NewEventLog(refresh.Retention{Events: 100}))
	b := upState(t, rds).NewHistory(refresh.NewEventLog(refresh.Retention{Events: 100}))
	ctx := context.Background()
	now := time.Now().Truncate(time.Microsecond)
	rec := func(id string, o refresh.Outcome, at time.Time) historyWrite {
		return historyWrite{r: refresh.Record{Event: event(id, now), Outcome: o, UpdatedAt: at}}
	}
	a.write(ctx, []historyWrite{rec("evt_1", refresh.Done, now.Add(time.Second))}) // the new leader's outcome
	b.write(ctx, []historyWrite{rec("evt_1", refresh.Retrying, now)})              // a stalled old leader's late write
	if got := outcome(a.Read(ctx, 10), "evt_1"); got != refresh.Done {
		t.Fatalf("the late, older write replaced the newer: %s", got)
	}

	// Two writers, 20 records, each written 30 times by both in a random
	// interleaving: each record ends at its highest stamp.
	var wg sync.WaitGroup
	for w, h := range []*History{a, b} {
		wg.Go(func() {
			for step := range 30 {
				for i := range 20 {
					at := now.Add(time.Duration(step*2+w) * time.Millisecond)
					h.write(ctx, []historyWrite{{r: refresh.Record{Event: event(fmt.Sprintf("race_%d", i), now),
						Outcome: refresh.Retrying, Attempts: step*2 + w, UpdatedAt: at}}})
				}
			}
		})
	}
	wg.Wait()
	for _, r := range a.Read(ctx, 100).Events {
		if r.ID != "evt_1" && r.Attempts != 59 {
			t.Errorf("%s ended at the write of step %d, want 59", r.ID, r.Attempts)
		}
	}
}

// TestHistoryTakeDeadOnce: replicas racing to replay one dead letter take
// it once; a repeat of the same death does not bring it back, a new death
// does.
func TestHistoryTakeDeadOnce(t *testing.T) {
	rds := redistest.Start(t)
	logA, a := newHistory(t, upState(t, rds), refresh.Retention{Events: 10})
	_, b := newHistory(t, upState(t, rds), refresh.Retention{Events: 10})
	ctx := context.Background()
	logA.Begin(event("evt_dead", time.Now()))
	logA.Update("evt_dead", func(r *refresh.Record) { r.Outcome = refresh.Dead })
	waitFor(t, "the dead letter in redis", func() bool { return len(b.Read(ctx, 0).DeadLetters) == 1 })

	var found atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		h := []*History{a, b}[i%2]
		wg.Go(func() {
			r, ok, err := h.TakeDead(ctx, "evt_dead")
			if err != nil {
				t.Error(err)
			}
			if ok {
				found.Add(1)
				if r.ID != "evt_dead" || r.Outcome != refresh.Dead {
					t.Errorf("took %+v", r)
				}
			}
		})
	}
	wg.Wait()
	if n := found.Load(); n != 1 {
		t.Fatalf("the dead letter was taken %d times", n)
	}
	if _, ok := logA.Dead("evt_dead"); ok {
		t.Errorf("the process that took it still holds its copy")
	}

	dead, _ := logA.Get("evt_dead")
	a.write(ctx, []historyWrite{{dead: true, r: dead}}) // a retried write of the same death
	if d := b.Read(ctx, 0).DeadLetters; len(d) != 0 {
		t.Fatalf("a repeated write brought the dead letter back: %v", ids(d))
	}
	logA.AddDead(dead) // a new death (or a replay the queue refused)
	waitFor(t, "the new death", func() bool { return len(b.Read(ctx, 0).DeadLetters) == 1 })
}

// historyOutage is a history keeping keep on a Redis that has just died,
// as its State has found.
func historyOutage(t *testing.T, keep refresh.Retention) (*redistest.Server, *State, *refresh.EventLog, *History) {
	t.Helper()
	rds := redistest.Start(t)
	s := upState(t, rds)
	log, h := newHistory(t, s, keep)
	rds.Kill()
	s.ping(context.Background()) // finds Redis gone
	if s.Up() {
		t.Fatal("redis still up")
	}
	return rds, s, log, h
}

// twoHistories are two processes' histories, keeping 10, on one Redis.
func twoHistories(t *testing.T) (*redistest.Server, *State, *refresh.EventLog, *History, *History) {
	t.Helper()
	rds := redistest.Start(t)
	s := upState(t, rds)
	log, h := newHistory(t, s, refresh.Retention{Events: 10})
	_, other := newHistory(t, upState(t, rds), refresh.Retention{Events: 10})
	return rds, s, log, h, other
}

// die records n events, evt_0 to evt_<n-1>, received in that order, each
// becoming a dead letter.
func die(log *refresh.EventLog, n int) {
	t0 := time.Now()
	for i := range n {
		id := fmt.Sprintf("evt_%d", i)
		log.Begin(event(id, t0.Add(time.Duration(i)*time.Millisecond)))
		log.Update(id, func(r *refresh.Record) { r.Outcome = refresh.Dead })
	}
}

// TestHistoryWhileRedisIsDown: with Redis gone, recording never waits on
// it, reads and takes come from this process's memory, and what was
// recorded meanwhile reaches Redis once it is back.
func TestHistoryWhileRedisIsDown(t *testing.T) {
	rds, s, log, h := historyOutage(t, refresh.Retention{Events: 10})
	ctx := context.Background()

	log.Begin(event("evt_outage", time.Now()))
	log.Update("evt_outage", func(r *refresh.Record) { r.Outcome = refresh.Dead })
	log.Begin(event("evt_other", time.Now()))
	log.Update("evt_other", func(r *refresh.Record) { r.Outcome = refresh.Dead })
	v := h.Read(ctx, 10)
	if v.Source != refresh.SourceMemory || outcome(v, "evt_outage") != refresh.Dead || len(v.DeadLetters) != 2 {
		t.Fatalf("read while down: %+v", v)
	}
	if _, ok, err := h.TakeDead(ctx, "evt_other"); !ok || err != nil {
		t.Fatalf("take while down: %v %v", ok, err)
	}

	rds.Restart(t) // empty: no persistence
	waitFor(t, "redis back", func() bool { return s.ping(ctx) == nil })
	waitFor(t, "the outage's records in redis", func() bool {
		v := h.Read(ctx, 10)
		return v.Source == refresh.SourceRedis && outcome(v, "evt_outage") == refresh.Dead && len(v.DeadLetters) == 1
	})
	other := newStateLeasing(t, rds, time.Second).NewHistory(refresh.NewEventLog(refresh.Retention{Events: 10}))
	other.s.ping(ctx)
	if v := other.Read(ctx, 10); v.Source != refresh.SourceRedis || outcome(v, "evt_other") != refresh.Dead || ids(v.DeadLetters)[0] != "evt_outage" {
		t.Errorf("another process reads %+v", v)
	}
}

// TestHistoryAfterALongOutage: when more records changed during an outage
// than the history keeps, what reaches Redis once it is back is the newest
// (what memory holds), not the first ids that changed.
func TestHistoryAfterALongOutage(t *testing.T) {
	rds, s, log, h := historyOutage(t, refresh.Retention{Events: 3})
	ctx := context.Background()
	die(log, 7)
	rds.Restart(t)
	waitFor(t, "redis back", func() bool { return s.ping(ctx) == nil })
	want := []string{"evt_6", "evt_5", "evt_4"}
	waitFor(t, "the newest records in redis", func() bool {
		v := h.Read(ctx, 3)
		return v.Source == refresh.SourceRedis && slices.Equal(ids(v.Events), want) && slices.Equal(ids(v.DeadLetters), want)
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.dirty)+len(h.deadDirty) != 0 || h.overflow {
		t.Errorf("still to write: %d, %d, %v", len(h.dirty), len(h.deadDirty), h.overflow)
	}
}

// TestHistoryReplayedDuringAnOutageIsNotDeadAfter: a dead letter replayed
// from a replica's memory while Redis was away is no dead letter in Redis
// once that replica's records reach it: no replica lists it or replays it
// a second time. A write of its death older than the event's stored record
// (arriving last, after Redis lost the tombstone) does not bring it back.
func TestHistoryReplayedDuringAnOutageIsNotDeadAfter(t *testing.T) {
	rds, s, log, h, other := twoHistories(t)
	ctx := context.Background()
	log.Begin(event("evt_dead", time.Now()))
	log.Update("evt_dead", func(r *refresh.Record) { r.Outcome = refresh.Dead })
	waitFor(t, "the dead letter in redis", func() bool { return len(other.Read(ctx, 0).DeadLetters) == 1 })
	death, _ := log.Dead("evt_dead")

	rds.Kill()
	s.ping(ctx)
	if _, ok, err := h.TakeDead(ctx, "evt_dead"); !ok || err != nil { // from memory
		t.Fatalf("take while down: %v %v", ok, err)
	}
	log.Begin(refresh.Event{ID: "evt_dead", ReceivedAt: death.ReceivedAt, Replay: 1})
	log.Update("evt_dead", func(r *refresh.Record) { r.Outcome = refresh.Done })
	rds.Restart(t)
	waitFor(t, "redis back", func() bool { return s.ping(ctx) == nil })
	// Redis restarted empty: put the death back as it was before the outage.
	h.write(ctx, []historyWrite{{dead: true, r: death}})
	waitFor(t, "the replay's outcome in redis", func() bool {
		v := other.Read(ctx, 10)
		return v.Source == refresh.SourceRedis && outcome(v, "evt_dead") == refresh.Done
	})
	if d := other.Read(ctx, 10).DeadLetters; len(d) != 0 {
		t.Fatalf("still a dead letter in redis: %v", ids(d))
	}
	if _, ok, err := other.TakeDead(ctx, "evt_dead"); ok || err != nil {
		t.Fatalf("replayed a second time from redis: %v %v", ok, err)
	}

	rds.Do(t, "FLUSHALL") // the tombstone gone too; the later record first
	now, _ := log.Get("evt_dead")
	h.write(ctx, []historyWrite{{r: now}})
	h.write(ctx, []historyWrite{{dead: true, r: death}})
	if d := other.Read(ctx, 10).DeadLetters; len(d) != 0 {
		t.Errorf("an older death written after the replay's record is a dead letter: %v", ids(d))
	}
}

// TestHistoryReadUpToAndCount: /status's bounded read gets the newest dead
// letters from Redis, and the metric's count is every replica's, from
// Redis or, while it is away, from memory.
func TestHistoryReadUpToAndCount(t *testing.T) {
	rds, s, log, h, other := twoHistories(t)
	ctx := context.Background()
	die(log, 4)
	waitFor(t, "4 dead letters counted in redis", func() bool { return other.DeadLetterCount(ctx) == 4 })
	v := other.ReadUpTo(ctx, 1, 2)
	if v.Source != refresh.SourceRedis || !slices.Equal(ids(v.Events), []string{"evt_3"}) || !slices.Equal(ids(v.DeadLetters), []string{"evt_3", "evt_2"}) {
		t.Errorf("read up to 1 and 2: %s %v %v", v.Source, ids(v.Events), ids(v.DeadLetters))
	}
	rds.Kill()
	if n := h.DeadLetterCount(ctx); n != 4 || s.Up() {
		t.Errorf("counted %d while redis is away (up %v)", n, s.Up())
	}
	if n := other.DeadLetterCount(ctx); n != 0 {
		t.Errorf("the other process counted %d of its own", n)
	}
}

// TestHistoryAfterRedisLostItsData: once the State finds that Redis lost
// folio's data (FLUSHALL, a restart without persistence), each process
// writes its own records again, dead letters included, and the replay
// that ended one is not undone.
func TestHistoryAfterRedisLostItsData(t *testing.T) {
	rds, s, log, _, other := twoHistories(t)
	ctx := context.Background()
	die(log, 3)
	log.Begin(refresh.Event{ID: "evt_0", ReceivedAt: time.Now(), Replay: 1}) // replayed, running
	waitFor(t, "the history in redis", func() bool {
		v := other.Read(ctx, 10)
		return len(v.Events) == 3 && len(v.DeadLetters) == 2
	})
	rds.Do(t, "FLUSHALL")
	s.dataLost("marker") // as the lease's check finds it
	waitFor(t, "the history written again", func() bool {
		v := other.Read(ctx, 10)
		return v.Source == refresh.SourceRedis && outcome(v, "evt_0") == refresh.Pending && outcome(v, "evt_2") == refresh.Dead &&
			slices.Equal(ids(v.DeadLetters), []string{"evt_2", "evt_1"})
	})
}
