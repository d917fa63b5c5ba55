// Package redisstate keeps what must outlive a folio process, and what
// replicas share, in Redis: the snapshots (so a restart serves at once), the
// event stream (so an accepted webhook survives a crash), the deduplication
// keys (so every replica sees the same duplicates), and a leader lease (so
// one replica fetches per change).
//
// Redis is optional and never on the read path: when it is down, folio
// keeps serving from memory, processes webhooks locally, and catches up when
// it returns.
package redisstate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/redis/go-redis/v9"
)

// Options configure the connection and its timings.
type Options struct {
	URL    string
	Prefix string // key prefix (default "folio")
	// LeaseTTL is how long the leader lease lasts without renewal: how
	// long a dead leader holds the others back (default 10s).
	LeaseTTL time.Duration
	// ClaimIdle is how long an event may sit unacknowledged with another
	// consumer before the leader takes it over (default 30s).
	ClaimIdle time.Duration
	// OpTimeout bounds each Redis command (default 2s).
	OpTimeout time.Duration
	Logger    *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "folio"
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 10 * time.Second
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = 30 * time.Second
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// State is folio's connection to Redis and its view of Redis's health.
type State struct {
	opts Options
	rdb  redis.UniversalClient
	log  *slog.Logger
	keys keys
	// id names this process: its lease value and its stream consumer.
	id string

	up       atomic.Bool
	leader   atomic.Bool
	mu       sync.Mutex
	lastErr  string
	lastErrT time.Time
	versions map[cache.Collection]string // what this process holds
}

// keys are folio's Redis keys. Each group shares a hash tag, so the keys a
// script touches together sit on one Cluster shard.
type keys struct {
	seq, current, lease, updates, stream, dedup string
}

func (k keys) part(col, version string) string {
	return k.current[:len(k.current)-len("current")] + "part:" + col + ":" + version
}

// New connects lazily: it fails only on a URL that can never work, never
// because Redis is down (folio then starts memory-only and keeps trying).
func New(o Options) (*State, error) {
	o = o.withDefaults()
	rdb, err := newClient(o.URL)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	p := o.Prefix
	return &State{
		opts: o, rdb: rdb, log: o.Logger,
		id: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b)),
		keys: keys{
			seq: p + ":{snapshot}:seq", current: p + ":{snapshot}:current", lease: p + ":{snapshot}:lease",
			updates: p + ":updates", stream: p + ":{events}", dedup: p + ":{dedup}:",
		},
	}, nil
}

// newClient reads the URL forms the README documents: one server
// (redis://, rediss://, unix://), Sentinel (?master_name=...&addr=...), or
// Cluster (several ?addr=... without master_name). All give a
// UniversalClient.
func newClient(raw string) (redis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("redisstate: REDIS_URL is not a URL")
	}
	q := u.Query()
	switch {
	case q.Get("master_name") != "":
		fo, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, fmt.Errorf("redisstate: Sentinel URL: %w", redactErr(err, raw))
		}
		return redis.NewFailoverClient(fo), nil
	case len(q["addr"]) > 0:
		co, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, fmt.Errorf("redisstate: Cluster URL: %w", redactErr(err, raw))
		}
		return redis.NewClusterClient(co), nil
	default:
		o, err := redis.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("redisstate: %w", redactErr(err, raw))
		}
		return redis.NewClient(o), nil
	}
}

// redactErr keeps a password in REDIS_URL out of error messages.
func redactErr(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "[redacted]"))
	}
	return err
}

// Close closes the connection, releasing the lease if held.
func (s *State) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.OpTimeout)
	s.release(ctx)
	cancel()
	return s.rdb.Close()
}

// ID names this process in Redis.
func (s *State) ID() string { return s.id }

// Up reports whether the last Redis command succeeded.
func (s *State) Up() bool { return s.up.Load() }

// Leader reports whether this process holds the leader lease.
func (s *State) Leader() bool { return s.leader.Load() }

// ping checks Redis and records the result.
func (s *State) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	return s.note(s.rdb.Ping(ctx).Err())
}

// note records a command's outcome as Redis's health, logging transitions.
func (s *State) note(err error) error {
	if err == nil || errors.Is(err, redis.Nil) {
		if !s.up.Swap(true) {
			s.log.Info("redis: connected")
		}
		return err
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	if s.up.Swap(false) {
		s.log.Error("redis: lost; serving from memory and processing webhooks locally until it returns", "error", err)
		s.leader.Store(false)
	}
	s.mu.Lock()
	s.lastErr, s.lastErrT = err.Error(), time.Now().UTC()
	s.mu.Unlock()
	return err
}

// Status is the redis section of /status.
type Status struct {
	Configured bool      `json:"configured"`
	Connected  bool      `json:"connected"`
	Degraded   bool      `json:"degraded"`
	Leader     bool      `json:"leader"`
	Consumer   string    `json:"consumer"`
	LastError  string    `json:"lastError,omitempty"`
	LastErrAt  time.Time `json:"lastErrorAt,omitzero"`
}

// Status reports Redis's state for /status.
func (s *State) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	up := s.up.Load()
	return Status{Configured: true, Connected: up, Degraded: !up, Leader: s.leader.Load(), Consumer: s.id,
		LastError: s.lastErr, LastErrAt: s.lastErrT}
}

func (s *State) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.opts.OpTimeout)
}
