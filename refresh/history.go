package refresh

import (
	"context"
	"time"
)

// The event history: what happened to events, kept by this process
// (EventLog) or shared by every replica (redisstate.History).

// Retention bounds a history: at most Events events and as many dead
// letters, none older than MaxAge (0: no age bound).
type Retention struct {
	Events int
	MaxAge time.Duration
}

// The sources of a View.
const (
	SourceMemory = "memory" // this process's own records
	SourceRedis  = "redis"  // every replica's, shared through Redis
)

// View is a history as read now: its source (SourceRedis, or SourceMemory
// for a process without Redis or while Redis is away), its retention, the
// events newest first (by ReceivedAt) and the dead letters newest first (by
// when they died).
type View struct {
	Source      string
	Retention   Retention
	Events      []Record
	DeadLetters []Record
}

// Mirror is told of every change of an EventLog, in order: the record as it
// now is (Put), and a record that became a dead letter (PutDead). Both are
// called under the log's lock and must not block.
type Mirror interface {
	Put(r Record)
	PutDead(r Record)
}

// DeadLetterTaker takes a dead letter for a replay: found is false when no
// dead letter has that id (never was, or another replay took it first); an
// error means the store could not say.
type DeadLetterTaker interface {
	TakeDead(ctx context.Context, id string) (r Record, found bool, err error)
}
