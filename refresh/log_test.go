package refresh_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/folio-cms/folio/refresh"
)

func ids(rs []refresh.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// mirror records what an EventLog tells it.
type mirror struct {
	mu         sync.Mutex
	puts, dead []refresh.Record
}

func (m *mirror) Put(r refresh.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts = append(m.puts, r)
}

func (m *mirror) PutDead(r refresh.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.dead = append(m.dead, r)
}

// TestEventLogRetention: the log keeps the newest events and dead letters
// up to the count, and none received (or dead) before the age bound.
func TestEventLogRetention(t *testing.T) {
	base := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := base
	log := refresh.NewEventLog(refresh.Retention{Events: 3, MaxAge: time.Hour})
	log.SetNow(func() time.Time { return now })
	for i := range 5 { // evt_i received, and dead, at minute i
		now = base.Add(time.Duration(i) * time.Minute)
		id := fmt.Sprintf("evt_%d", i)
		log.Begin(refresh.Event{ID: id, ReceivedAt: now})
		log.Update(id, func(r *refresh.Record) { r.Outcome = refresh.Dead })
	}
	if got := ids(log.Recent(10)); !slices.Equal(got, []string{"evt_4", "evt_3", "evt_2"}) {
		t.Errorf("events %v", got)
	}
	if got := ids(log.DeadLetters()); !slices.Equal(got, []string{"evt_4", "evt_3", "evt_2"}) {
		t.Errorf("dead letters %v", got)
	}
	log.Add(refresh.Record{Event: refresh.Event{ID: "evt_old", ReceivedAt: now.Add(-2 * time.Hour)}, Outcome: refresh.Ignored})
	if got := ids(log.Recent(10)); slices.Contains(got, "evt_old") {
		t.Errorf("an event received before the age bound is kept: %v", got)
	}

	now = base.Add(time.Hour + 2*time.Minute + 30*time.Second) // evt_2 was received, and died, over an hour ago
	if got := ids(log.Recent(10)); !slices.Equal(got, []string{"evt_4", "evt_3"}) {
		t.Errorf("events an hour on %v", got)
	}
	if got := ids(log.DeadLetters()); !slices.Equal(got, []string{"evt_4", "evt_3"}) {
		t.Errorf("dead letters an hour on %v", got)
	}
	v := log.Read(context.Background(), 1)
	if v.Source != refresh.SourceMemory || v.Retention.Events != 3 || !slices.Equal(ids(v.Events), []string{"evt_4"}) || len(v.DeadLetters) != 2 {
		t.Errorf("read %+v", v)
	}
}

// TestEventLogStampsAndMirrors: every change is stamped later than the one
// before, even when the clock stands still, and told to the mirror in
// order; a replayed event counts its replays whichever process replayed it.
func TestEventLogStampsAndMirrors(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	log := refresh.NewEventLog(refresh.Retention{Events: 10})
	log.SetNow(func() time.Time { return now })
	m := &mirror{}
	log.SetMirror(m)
	log.Begin(refresh.Event{ID: "evt_1", ReceivedAt: now})
	log.Update("evt_1", func(r *refresh.Record) { r.Outcome = refresh.Retrying })
	log.Update("evt_1", func(r *refresh.Record) { r.Outcome = refresh.Dead })
	if len(m.puts) != 3 || len(m.dead) != 1 {
		t.Fatalf("mirrored %d changes and %d dead letters", len(m.puts), len(m.dead))
	}
	for i, r := range m.puts {
		if i > 0 && !r.UpdatedAt.After(m.puts[i-1].UpdatedAt) {
			t.Errorf("change %d stamped %s, not after %s", i, r.UpdatedAt, m.puts[i-1].UpdatedAt)
		}
	}
	if got := []refresh.Outcome{m.puts[0].Outcome, m.puts[1].Outcome, m.puts[2].Outcome}; !slices.Equal(got, []refresh.Outcome{refresh.Pending, refresh.Retrying, refresh.Dead}) {
		t.Errorf("mirrored outcomes %v", got)
	}
	if m.dead[0].UpdatedAt != m.puts[2].UpdatedAt {
		t.Errorf("the dead letter is stamped %s, its death %s", m.dead[0].UpdatedAt, m.puts[2].UpdatedAt)
	}

	r, ok, err := log.TakeDead(context.Background(), "evt_1")
	if !ok || err != nil || r.ID != "evt_1" {
		t.Fatalf("take: %v %v", ok, err)
	}
	if _, ok, _ := log.TakeDead(context.Background(), "evt_1"); ok {
		t.Fatal("taken twice")
	}
	// Another replica replayed it (Event.Replay); this one dispatches it.
	log.Begin(refresh.Event{ID: "evt_1", ReceivedAt: now, Replay: 2})
	if r, _ := log.Get("evt_1"); r.Replays != 2 || r.Outcome != refresh.Pending {
		t.Errorf("after a replay: %+v", r)
	}
}

// TestEventLogReplayedElsewhereIsNoLongerDead: a dead letter another
// replica took for a replay leaves this log's list once this log dispatches
// the event again, so that while Redis is away it is neither listed nor
// replayed a second time from here.
func TestEventLogReplayedElsewhereIsNoLongerDead(t *testing.T) {
	log := refresh.NewEventLog(refresh.Retention{Events: 10})
	log.Begin(refresh.Event{ID: "evt_1", ReceivedAt: time.Now()})
	log.Update("evt_1", func(r *refresh.Record) { r.Outcome = refresh.Dead })
	if len(log.DeadLetters()) != 1 {
		t.Fatal("no dead letter")
	}
	log.Begin(refresh.Event{ID: "evt_1", ReceivedAt: time.Now(), Replay: 1})
	if d := log.DeadLetters(); len(d) != 0 {
		t.Errorf("dispatched again, still a dead letter: %v", ids(d))
	}
	if _, ok, _ := log.TakeDead(context.Background(), "evt_1"); ok {
		t.Error("dispatched again, still replayable")
	}
}

// TestEventLogReadUpTo: a read bounded in dead letters gets the newest;
// the count needs no read.
func TestEventLogReadUpTo(t *testing.T) {
	log := refresh.NewEventLog(refresh.Retention{Events: 10})
	for i := range 4 {
		id := fmt.Sprintf("evt_%d", i)
		log.Begin(refresh.Event{ID: id, ReceivedAt: time.Now()})
		log.Update(id, func(r *refresh.Record) { r.Outcome = refresh.Dead })
	}
	v := log.ReadUpTo(context.Background(), 1, 2)
	if !slices.Equal(ids(v.Events), []string{"evt_3"}) || !slices.Equal(ids(v.DeadLetters), []string{"evt_3", "evt_2"}) {
		t.Errorf("read up to 1 and 2: %v %v", ids(v.Events), ids(v.DeadLetters))
	}
	if n := log.DeadLetterCount(context.Background()); n != 4 {
		t.Errorf("counted %d dead letters", n)
	}
}
