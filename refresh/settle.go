package refresh

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
)

// Settling: whether what is served reflects an event, or what overtook it,
// and the event's outcome.

// reflected reports whether the served part shows an event's change, or
// that the change was overtaken: a later event for the same entity that the
// part shows (by names it), or, for a removal, the entity republished at a
// higher revision.
func (e *Engine) reflected(t *task, col cache.Collection, served *cache.Part) (ok bool, by string) {
	if served == nil {
		return false, ""
	}
	if shows(t.ev, col, served, e.loader.cols) {
		return true, ""
	}
	if t.ev.Action.Removes() {
		if rev := served.Refs[t.ev.Entity]; t.ev.Revision > 0 && rev > t.ev.Revision {
			return true, fmt.Sprintf("revision %d", rev)
		}
		if m := served.Marks[t.ev.Entity]; !m.Gone && incarnation(m.CreatedAt, t.ev.DeletedAt) == 1 {
			return true, "re-created at " + m.CreatedAt // what was deleted is gone; this is another entry
		}
	}
	for _, later := range e.later(t) {
		if overtakes(later, t.ev) && shows(later, col, served, e.loader.cols) {
			return true, later.ID
		}
	}
	return false, ""
}

// overtakes reports whether a later event's change, once served, makes an
// earlier one's moot: a removal at or after a publish's revision (or of
// unknown revision), unless the publish is of an entry created after that
// deletion; or a publish at another revision than a removal's (a higher
// one republishes, a lower one re-creates the entry) or of an entry created
// after it. A webhook that came later but names an earlier revision
// (Contentful does not promise order) overtakes nothing.
func overtakes(later, ev Event) bool {
	switch {
	case later.Action.Removes() && !ev.Action.Removes():
		if incarnation(ev.CreatedAt, later.DeletedAt) == 1 {
			return false // the publish is of an entry created after that deletion
		}
		return later.Revision == 0 || later.Revision >= ev.Revision
	case !later.Action.Removes() && ev.Action.Removes():
		return ev.Revision == 0 || later.Revision != ev.Revision || incarnation(later.CreatedAt, ev.DeletedAt) == 1
	}
	return false // same kind: the later one's being served shows the earlier's only if its own check does
}

// shows reports whether part shows the event's own change: a publish at
// sys.revision >= the webhook's, or a removal gone.
func shows(ev Event, col cache.Collection, part *cache.Part, cols Collections) bool {
	if ev.Full || ev.Revision == 0 && !ev.Action.Removes() {
		return true
	}
	rev, linked := part.Refs[ev.Entity]
	if ev.Action.Removes() {
		// Gone, or still linked but rendered as null.
		return !linked || rev == 0
	}
	if linked {
		switch incarnation(part.Marks[ev.Entity].CreatedAt, ev.CreatedAt) {
		case -1:
			return false // still the entry before the re-created one
		case 1:
			return true // a later incarnation already
		}
		// rev 0 is a link that does not resolve yet: the CDN still lags.
		return rev >= ev.Revision
	}
	// Absent after a publish: an entry of this collection's own types must
	// appear (the CDN lags); a linked entity that is no longer linked has
	// nothing left to show.
	return !ownType(ev, col, cols)
}

// sight records a dispatched event under its entity and numbers it.
func (e *Engine) sight(ev Event, now time.Time) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seq++
	if ev.Entity != "" {
		keep := e.recent[ev.Entity][:0:0]
		for _, s := range e.recent[ev.Entity] {
			if now.Sub(s.ev.ReceivedAt) < 2*e.opts.WaitBound {
				keep = append(keep, s)
			}
		}
		e.recent[ev.Entity] = append(keep, sighting{seq: e.seq, ev: ev})
	}
	return e.seq
}

// later returns the events for t's entity dispatched after t.
func (e *Engine) later(t *task) []Event {
	if t.ev.Entity == "" {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, s := range e.recent[t.ev.Entity] {
		if s.seq > t.seq {
			out = append(out, s.ev)
		}
	}
	return out
}

// recentRemovals returns what the removal webhooks dispatched within the
// lag bound said, whichever collections they named, less those a later
// sighting of the same entity overtook (a republish, a re-creation). A
// collection that never served the entity must know it went as well: a
// lagging answer can bring it in through a link (a profile just published
// to link a post unpublished a moment before).
func (e *Engine) recentRemovals(now time.Time) map[contentful.Ref]Removal {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[contentful.Ref]Removal{}
	for ref, ss := range e.recent {
		for i, s := range ss {
			if !s.ev.Action.Removes() || now.Sub(s.ev.ReceivedAt) >= e.opts.WaitBound {
				continue
			}
			overtaken := slices.ContainsFunc(ss[i+1:], func(l sighting) bool { return overtakes(l.ev, s.ev) })
			if was, seen := out[ref]; overtaken || seen && s.ev.Revision < was.Revision {
				continue
			}
			out[ref] = Removal{Revision: s.ev.Revision, DeletedAt: s.ev.DeletedAt, At: s.ev.ReceivedAt}
		}
	}
	return out
}

// dropStaleSightings forgets entities whose events are all older than two
// wait bounds: nothing still waiting can be overtaken by them.
func (e *Engine) dropStaleSightings(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for ref, ss := range e.recent {
		if now.Sub(ss[len(ss)-1].ev.ReceivedAt) >= 2*e.opts.WaitBound {
			delete(e.recent, ref)
		}
	}
}

// settle ends one collection's part of an event; the event's final outcome
// is the worst of its collections'.
func (e *Engine) settle(t *task, col cache.Collection, o Outcome, errMsg, supersededBy string, snap *cache.Snapshot) {
	e.mu.Lock()
	in := t.in
	in.remaining--
	if rank(o) > rank(in.outcome) {
		in.outcome, in.errMsg = o, errMsg
	}
	if supersededBy != "" {
		in.supersededBy = supersededBy
	}
	last := in.remaining == 0
	e.mu.Unlock()

	if p := snap.Part(col); p != nil {
		etag := p.Root.ETag()
		e.events.Update(t.ev.ID, func(r *Record) {
			// Copy on write: /status may be encoding the old map.
			m := maps.Clone(r.Snapshots)
			if m == nil {
				m = map[string]string{}
			}
			m[string(col)] = etag
			r.Snapshots = m
		})
	}
	if last {
		e.finish(t.ev, in)
	}
}

func rank(o Outcome) int {
	switch o {
	case Dead:
		return 3
	case Failed:
		return 2
	}
	return 1
}

// finish records an event's final outcome and reports it.
func (e *Engine) finish(ev Event, in *inflight) {
	now := e.opts.Clock.Now()
	e.mu.Lock()
	o, errMsg, persisted, by := in.outcome, in.errMsg, !in.unstored, in.supersededBy
	e.mu.Unlock()
	var final Record
	found := false
	e.events.Update(ev.ID, func(r *Record) {
		r.Outcome, r.Error, r.FinishedAt, r.Persisted, r.SupersededBy = o, errMsg, now.UTC(), persisted, by
		r.DurationMillis = now.Sub(r.ReceivedAt).Milliseconds()
		final, found = *r, true
	})
	if !found {
		final = Record{Event: ev, Outcome: o, Error: errMsg, FinishedAt: now.UTC(), Persisted: persisted, SupersededBy: by}
		e.events.Add(final)
		if o == Dead {
			e.events.AddDead(final)
		}
	}
	level := slog.LevelInfo
	if o == Dead || o == Failed {
		level = slog.LevelError
	}
	e.log.Log(context.Background(), level, "event finished", "event", ev.ID, "topic", ev.Topic, "entity", string(ev.Entity),
		"revision", ev.Revision, "outcome", string(o), "superseded_by", by, "millis", final.DurationMillis, "error", errMsg)
	if e.opts.OnFinal != nil {
		e.opts.OnFinal(final)
	}
}

// ownType reports whether the event's entity is an entry of one of the
// collection's own content types.
func ownType(ev Event, col cache.Collection, cols Collections) bool {
	if ev.ContentType == "" {
		return false
	}
	if col == cache.Blog {
		return ev.ContentType == cols.BlogType
	}
	return slices.Contains(cols.CVTypes, ev.ContentType)
}
