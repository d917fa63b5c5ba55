package refresh

import "time"

// SetNow sets the log's clock, for tests of its age bound and stamps.
func (l *EventLog) SetNow(now func() time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.now = now
}
