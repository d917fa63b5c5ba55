// Package redisstate keeps what must outlive a folio process, and what
// replicas share, in Redis: the snapshots (so a restart serves at once), the
// event stream (so an accepted webhook survives a crash), the deduplication
// keys (so every replica sees the same duplicates), and a leader lease (so
// one replica fetches per change).
//
// Redis is optional and never on the read path: when it is down, folio
// keeps serving from memory, processes webhooks locally, and catches up when
// it returns.
//
// Nothing here assumes that Redis keeps what it was given. Part versions are
// unique strings, never a counter, so a version seen before a FLUSHALL (or a
// restart without persistence) cannot be mistaken for one written after it;
// a marker key and the consumer group's disappearance reveal the data loss,
// and the leader then refetches everything. Errors are told apart: an
// outage (the network, a timeout, a server that is loading, read-only or
// without its master) puts folio in degraded mode, while a command a healthy
// server refuses (OOM, NOGROUP, WRONGTYPE, ...) is logged and handled by the
// operation that met it.
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

	up atomic.Bool
	// probing is set while Redis is down: only a probe that reaches every
	// key group (ping) marks it up again, not one command that succeeded.
	probing atomic.Bool
	leader  atomic.Bool
	// installMu orders Follow's installs against SavePart's record of what
	// it wrote, so a loaded part never replaces one this process has just
	// written or loaded.
	installMu sync.Mutex

	mu         sync.Mutex // guards what follows
	lastErr    string     // the last outage, redacted
	lastErrT   time.Time
	lastCmd    string // the last command error, redacted
	lastCmdT   time.Time
	lastCmdLog time.Time                   // when a command error was last logged
	lossT      time.Time                   // when this process last found Redis's data lost
	marker     string                      // the marker value this process last saw; "" before the first look
	versions   map[cache.Collection]string // what this process holds
	// held indexes by name the blobs (resources, entities) of the part
	// this process last wrote or loaded, per collection: a load fetches
	// only the others.
	held map[cache.Collection]map[string]cache.Blob
}

// keys are folio's Redis keys. Each group shares a hash tag, so the keys a
// script touches together sit on one Cluster shard.
type keys struct {
	current, lease, marker, updates, stream, dedup string
}

func (k keys) part(col, version string) string {
	return k.current[:len(k.current)-len("current")] + "part:" + col + ":" + version
}

// res names the blob of one resource of a collection by its hash ("" for
// the prefix of them all).
func (k keys) res(col, hash string) string {
	return k.current[:len(k.current)-len("current")] + "res:" + col + ":" + hash
}

// live names the set of the hashes the collection's current part names.
func (k keys) live(col string) string {
	return k.current[:len(k.current)-len("current")] + "live:" + col
}

// New connects lazily: it fails only on a URL that can never work, never
// because Redis is down (folio then starts memory-only and keeps trying).
func New(o Options) (*State, error) {
	o = o.withDefaults()
	rdb, err := newClient(o.URL)
	if err != nil {
		return nil, err
	}
	routeClientLog(o.Logger)
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	p := o.Prefix
	return &State{
		opts: o, rdb: rdb, log: o.Logger,
		id: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b)),
		keys: keys{
			current: p + ":{snapshot}:current", lease: p + ":{snapshot}:lease", marker: p + ":{snapshot}:marker",
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

// redactErr keeps the passwords in REDIS_URL out of error messages: the
// userinfo's, and a Sentinel URL's ?password= (the primary's, go-redis's
// ParseFailoverURL) and ?sentinel_password=.
func redactErr(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil || err == nil {
		return err
	}
	secrets := u.Query()["password"]
	secrets = append(secrets, u.Query()["sentinel_password"]...)
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			secrets = append(secrets, pw)
		}
	}
	msg := err.Error()
	for _, pw := range secrets {
		if pw != "" {
			msg = strings.ReplaceAll(msg, pw, "[redacted]")
		}
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
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

// Up reports whether Redis is usable: the last command reached a server
// that could serve it. A command the server refused (OOM, NOGROUP, ...)
// leaves it true; only an outage (see classify) makes it false.
func (s *State) Up() bool { return s.up.Load() }

// Leader reports whether this process holds the leader lease.
func (s *State) Leader() bool { return s.leader.Load() }

// ping checks that Redis serves every key group (EXISTS on one key of
// each, pipelined) and records the result; it alone ends an outage. On a
// Cluster a PING, or a command on one shard, succeeds while the shard of
// another group is down (before the cluster's node timeout, and PING after
// it too): marking Redis up on that made the leader lead anew and refetch
// everything each time, and fail again at once.
func (s *State) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.OpTimeout)
	defer cancel()
	cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range s.probeKeys() {
			p.Exists(ctx, k)
		}
		return nil
	})
	for _, c := range cmds {
		if c.Err() != nil {
			err = c.Err()
			break
		}
	}
	if classify(err) == errNone {
		s.probing.Store(false)
	}
	return s.note(err)
}

// probeKeys names one key of each key group (hash tag): on a Cluster,
// every shard folio uses.
func (s *State) probeKeys() []string {
	return []string{s.keys.marker, s.keys.stream, s.keys.dedup + "probe", s.opts.Prefix + ":{history}:events"}
}

// errKind is what a Redis command's error says about Redis.
type errKind int

const (
	errNone     errKind = iota // success, or redis.Nil (no such key)
	errCanceled                // the caller gave up: says nothing about Redis
	errOutage                  // Redis cannot serve folio now: degraded mode until it answers
	errCommand                 // a healthy server refused this command: the operation decides
)

// classify decides what err means. Outages are network errors (refused or
// reset connections, EOF, timeouts, a closed client or an exhausted pool:
// everything that is not a reply from the server), and the replies of a
// server that cannot serve now: LOADING, READONLY, MASTERDOWN, CLUSTERDOWN,
// TRYAGAIN, a refused login (NOAUTH, WRONGPASS) and "max number of
// clients". Any other error reply (OOM, NOGROUP, NOSCRIPT, WRONGTYPE,
// BUSYGROUP, ERR ...) is a command error from a healthy server.
func classify(err error) errKind {
	var rerr redis.Error
	switch {
	case err == nil || errors.Is(err, redis.Nil):
		return errNone
	case errors.Is(err, context.Canceled):
		return errCanceled
	case !errors.As(err, &rerr):
		return errOutage
	case redis.IsLoadingError(err), redis.IsReadOnlyError(err), redis.IsMasterDownError(err),
		redis.IsClusterDownError(err), redis.IsTryAgainError(err), redis.IsAuthError(err),
		redis.IsMaxClientsError(err):
		return errOutage
	}
	return errCommand
}

// note records a command's outcome: success marks Redis up, an outage
// marks it down (logged on the transition, and the lease counts as lost),
// a command error is recorded and logged (at most once a minute while it
// repeats) without touching either. It returns err unchanged.
func (s *State) note(err error) error {
	switch classify(err) {
	case errNone:
		if s.probing.Load() {
			break // a command on one shard: ping decides
		}
		if !s.up.Swap(true) {
			s.log.Info("redis: connected")
		}
	case errOutage:
		msg := s.redact(err)
		s.probing.Store(true)
		if s.up.Swap(false) {
			s.log.Error("redis: lost; serving from memory and processing webhooks locally until it returns", "error", msg)
			s.leader.Store(false)
		}
		s.mu.Lock()
		s.lastErr, s.lastErrT = msg, time.Now().UTC()
		s.mu.Unlock()
	case errCommand:
		msg, now := s.redact(err), time.Now()
		s.mu.Lock()
		repeat := msg == s.lastCmd && now.Sub(s.lastCmdLog) < time.Minute
		s.lastCmd, s.lastCmdT = msg, now.UTC()
		if !repeat {
			s.lastCmdLog = now
		}
		s.mu.Unlock()
		if !repeat {
			s.log.Warn("redis: command refused; Redis stays in use", "error", msg)
		}
	}
	return err
}

// redact gives err's message for logs and /status: a password in REDIS_URL
// never appears, and a long message (one that quotes arguments) is cut.
func (s *State) redact(err error) string {
	const most = 300
	msg := redactErr(err, s.opts.URL).Error()
	if len(msg) > most {
		msg = strings.ToValidUTF8(msg[:most], "") + "..."
	}
	return msg
}

// dataLost records and logs that Redis lost folio's data; signal names
// what revealed it.
func (s *State) dataLost(signal string) {
	s.mu.Lock()
	s.lossT = time.Now().UTC()
	s.mu.Unlock()
	if signal == "rollback" {
		s.log.Error("redis: writes lost (a failover to a replica they had not reached, or a restart from a file that lacks them): "+
			"a stored snapshot went back to an older version, and events accepted just before may be gone; "+
			"the leader refetches every collection", "signal", signal)
		return
	}
	s.log.Error("redis: data lost (FLUSHALL, eviction, or a restart without persistence): stored snapshots, queued events, "+
		"the consumer group and the lease are gone; the leader refetches every collection", "signal", signal)
}

// Status is the redis section of /status.
type Status struct {
	Configured bool   `json:"configured"`
	Connected  bool   `json:"connected"`
	Degraded   bool   `json:"degraded"`
	Leader     bool   `json:"leader"`
	Consumer   string `json:"consumer"`
	// LastError is the last outage (a network error, a server that could
	// not serve), redacted; LastErrAt when it happened (UTC).
	LastError string    `json:"lastError,omitempty"`
	LastErrAt time.Time `json:"lastErrorAt,omitzero"`
	// LastCommandError is the last command a healthy server refused (OOM,
	// NOGROUP, ...), redacted; it does not make folio degraded.
	LastCommandError   string    `json:"lastCommandError,omitempty"`
	LastCommandErrorAt time.Time `json:"lastCommandErrorAt,omitzero"`
	// DataLossAt is when this process last found that Redis had lost
	// folio's data (UTC); zero if it never did.
	DataLossAt time.Time `json:"dataLossAt,omitzero"`
}

// Status reports Redis's state for /status.
func (s *State) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	up := s.up.Load()
	return Status{Configured: true, Connected: up, Degraded: !up, Leader: s.leader.Load(), Consumer: s.id,
		LastError: s.lastErr, LastErrAt: s.lastErrT, LastCommandError: s.lastCmd, LastCommandErrorAt: s.lastCmdT,
		DataLossAt: s.lossT}
}

func (s *State) ctx(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(parent, s.opts.OpTimeout)
}
