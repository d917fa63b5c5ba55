package redisstate

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// go-redis logs on its own, in plain text on stderr, through one logger
// for the whole process (redis.SetLogger): a Sentinel client's "new
// master" after a failover, and a line for every failed dial while Redis
// is down. folio's log is structured (JSON in production), so those lines
// go through the Logger of the last State made (a process makes one),
// each as one record with its text in "message".
var clientLog atomic.Pointer[slog.Logger]

// clientLogger is go-redis's logger (redis.SetLogger): it forwards to
// clientLog.
type clientLogger struct{}

// Printf logs one go-redis line. A failed dial, which every command
// repeats during an outage that folio logs once ("redis: lost"), is Debug;
// Sentinel's discoveries (a new master, a new sentinel) and a Cluster's
// moved slots are Info; anything else is Warn.
func (clientLogger) Printf(ctx context.Context, format string, v ...any) {
	log := clientLog.Load()
	if log == nil {
		return
	}
	msg := fmt.Sprintf(format, v...)
	level := slog.LevelWarn
	switch {
	case strings.Contains(msg, "failed to dial"), strings.Contains(msg, "GetMasterAddrByName"):
		level = slog.LevelDebug
	case strings.HasPrefix(msg, "sentinel: "), strings.HasPrefix(msg, "cluster: "), strings.HasPrefix(msg, "pubsub: reconnecting"):
		level = slog.LevelInfo
	}
	log.Log(ctx, level, "redis client", "message", msg)
}

// routeClientLog sends go-redis's log to log from now on.
func routeClientLog(log *slog.Logger) {
	if clientLog.Swap(log) == nil {
		redis.SetLogger(clientLogger{})
	}
}
