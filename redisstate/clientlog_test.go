package redisstate

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/internal/logbuf"
	"github.com/folio-cms/folio/internal/redistest"
	"github.com/folio-cms/folio/refresh"
	"github.com/redis/go-redis/v9"
)

// TestClientLogIsStructured: go-redis's own lines (a Sentinel's new master,
// a failed dial) reach the State's logger as records, at a level that
// keeps an outage from repeating in the log, never as plain text.
func TestClientLogIsStructured(t *testing.T) {
	var buf *logbuf.Buffer
	log := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) { return buf.Write(p) }),
		&slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := New(Options{URL: "redis://127.0.0.1:1/0", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if clientLog.Load() != log {
		t.Fatal("New did not route go-redis's log to its Logger")
	}
	for _, c := range []struct {
		format string
		args   []any
		level  string
	}{
		{"sentinel: new master=%q addr=%q", []any{"folio", "127.0.0.1:6380"}, "INFO"},
		{"redis: connection pool: failed to dial after %d attempts: %v", []any{5, "connection refused"}, "DEBUG"},
		{"redis: unknown message type: %T", []any{1}, "WARN"},
	} {
		buf = &logbuf.Buffer{} // one record per case
		clientLogger{}.Printf(context.Background(), c.format, c.args...)
		var rec struct{ Level, Msg, Message string }
		if err := json.Unmarshal([]byte(buf.String()), &rec); err != nil {
			t.Fatalf("%q: not one JSON record: %v: %s", c.format, err, buf.String())
		}
		if rec.Level != c.level || rec.Msg != "redis client" || !strings.HasPrefix(rec.Message, strings.SplitN(c.format, "%", 2)[0]) {
			t.Errorf("%q logged as %+v, want level %s", c.format, rec, c.level)
		}
	}
}

// writerFunc is a function as an io.Writer.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestClaimLogsOnlyNewEvents: an event the leader is still working on is
// claimed again each time it has been idle for ClaimIdle; it is not handed
// over twice, nor logged as taken over again.
func TestClaimLogsOnlyNewEvents(t *testing.T) {
	rds := redistest.Start(t)
	var buf logbuf.Buffer
	s, err := New(Options{URL: rds.URL, LeaseTTL: time.Minute, ClaimIdle: 50 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	local := &fakeLocal{}
	q := s.NewQueue(local)
	if !leads(t, s) || q.createGroup(ctx) != nil {
		t.Fatal("no lease or no group")
	}
	if err := q.Enqueue(ctx, refresh.Event{ID: "orphan", Collections: []cache.Collection{cache.CV}}); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "dead",
		Streams: []string{s.keys.stream, ">"}, Count: 1}).Err(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		time.Sleep(100 * time.Millisecond) // idle past ClaimIdle
		q.claim(ctx)
	}
	if n := strings.Count(buf.String(), "took over unacknowledged events"); n != 1 {
		t.Errorf("the take-over is logged %d times, want 1:\n%s", n, buf.String())
	}
	local.mu.Lock()
	defer local.mu.Unlock()
	if len(local.put) != 1 {
		t.Errorf("the event was handed over %d times, want 1", len(local.put))
	}
}
