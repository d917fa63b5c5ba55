package refresh

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
)

// Rule is folio's revision rule, the one place that decides whether what
// the Delivery API answered may replace what is served. It works entity by
// entity, on the served part's ledger (cache.Part.Marks):
//
//   - An entity fetched at a lower sys.revision than served is stale, and
//     the served version is kept, but only for the same incarnation (the same
//     sys.createdAt: an entry deleted and re-created with the same id starts
//     again at revision 1, with a later createdAt) and only within Bound of
//     when the served version was first served. An earlier incarnation (a
//     lagging edge still serving the deleted entry) is stale at any
//     revision, within the same bound. Contentful's CDN lags a publish by seconds to minutes
//     (CONTENTFUL.md); once the lag bound has passed, what the Delivery API
//     answers is the truth.
//
//   - An entity a removal webhook said went (unpublished, archived,
//     deleted), at the revision it had, is remembered as Gone for Bound; a
//     lagging answer that brings it back at that revision, or lower, is
//     stale and the entity stays away. Republished, it has a higher revision;
//     re-created, a later createdAt: either is fresh. An entity merely
//     missing from an answer is not Gone: a lagging edge may lack an entity
//     as well as hold an old one.
//
//   - A stale entity never holds the rest of its collection back: the fresh
//     entities are installed beside the served version of the stale one, and
//     the collection is fetched again until the lag bound ends the question.
//
// A Redis follower installs what the leader stored, through the same rule
// (Loader.Adopt): only an entity it served newer itself, within the bound,
// keeps its version. An operator's forced refresh is installed everywhere
// as it is.
type Rule struct {
	// Bound is the CDN lag bound, FOLIO_CDN_WAIT.
	Bound time.Duration
}

// Removal is what a removal webhook said: the revision its entity had,
// when it was deleted (sys.deletedAt, "" when unknown), and when the
// webhook came.
type Removal struct {
	Revision  int
	DeletedAt string
	At        time.Time
}

// informed returns served with what removal webhooks said folded into its
// ledger (served itself when there is nothing to add): an entity it serves
// or served, said removed at a revision at least the one it has, is Gone at
// that revision from the webhook's time, same incarnation, unless it was
// created after the deletion (a webhook about the incarnation before it,
// come late). An entity the part never served is marked too: a lagging
// answer must not bring in what a webhook said went.
func (r Rule) informed(served *cache.Part, removals map[contentful.Ref]Removal) *cache.Part {
	if served == nil || len(removals) == 0 {
		return served
	}
	var marks map[contentful.Ref]cache.Mark
	for ref, rm := range removals {
		m, ok := served.Marks[ref]
		if rm.Revision == 0 {
			// A removal that names no revision removes the one served.
			if !ok || m.Gone {
				continue
			}
			rm.Revision = m.Revision
		}
		// A Gone mark that names its incarnation covers that one only: a
		// removal that came after it may be of the entry re-created since.
		later := ok && another(m, rm)
		if ok && !later && (rm.Revision < m.Revision || m.Gone && rm.Revision == m.Revision) {
			continue
		}
		if !later && incarnation(m.CreatedAt, rm.DeletedAt) == 1 {
			continue // the served one was created after that deletion: a re-creation, not what went
		}
		if later {
			m.CreatedAt = "" // not known: the removal may be of a later incarnation
		}
		if marks == nil {
			marks = maps.Clone(served.Marks)
			if marks == nil {
				marks = map[contentful.Ref]cache.Mark{}
			}
		}
		marks[ref] = cache.Mark{Revision: rm.Revision, CreatedAt: m.CreatedAt, Since: latest(rm.At, m.Since), Gone: true, DeletedAt: rm.DeletedAt}
	}
	if marks == nil {
		return served
	}
	out := *served
	out.Marks = marks
	return &out
}

// another reports whether a removal that came after the Gone mark m may
// be of a later incarnation than the one m names (by sys.createdAt or
// sys.deletedAt): it names no deletion (an unpublish: the one m records
// was said already) or a later deletion than m's, not one from before m's
// entry was created. It then marks the entity gone afresh, of whichever
// incarnation: an unpublish of a re-created post, skipped for the Gone mark
// of the delete before it at the same revision, let a lagging edge bring
// the post back for good (e2e oracle seed 539887147621).
func another(m cache.Mark, rm Removal) bool {
	if !m.Gone || rm.Revision < m.Revision || !rm.At.After(m.Since) || m.CreatedAt == "" && m.DeletedAt == "" {
		return false
	}
	if rm.DeletedAt == "" {
		return true
	}
	return rm.DeletedAt != m.DeletedAt && incarnation(rm.DeletedAt, m.DeletedAt) != -1 && incarnation(m.CreatedAt, rm.DeletedAt) != 1
}

// judgement is the rule applied to one fetch: the served versions to keep,
// the entities to leave out, and which entities were stale.
type judgement struct {
	keep  map[contentful.Ref]contentful.Entity
	drop  map[contentful.Ref]bool
	stale []contentful.Ref
	why   []string // per stale entity, for the log
	// restore are top-level entries the answer lacks that stay listed.
	restore []string
	order   []string // the served items' order, to put them back
	// settled is when the last stale entity's bound ends: a fetch then
	// settles every question this one left open.
	settled time.Time
}

// judge compares a fetch with the served part, entity by entity.
//
// missing says whether an entity the answer lacks can be stale (a fetch
// from the Delivery API); a part another process built lacks what that
// process decided to leave out.
func (r Rule) judge(served *cache.Part, fetched *contentful.Collection, now time.Time, missing bool) judgement {
	var j judgement
	if served == nil {
		return j
	}
	for ref, e := range fetched.Entities {
		m, ok := served.Marks[ref]
		if !ok || !r.stale(m, e, now) {
			continue
		}
		if m.Gone {
			if j.drop == nil {
				j.drop = map[contentful.Ref]bool{}
			}
			j.drop[ref] = true
		} else if kept, ok := served.Entities[ref]; ok {
			if j.keep == nil {
				j.keep = map[contentful.Ref]contentful.Entity{}
			}
			j.keep[ref] = kept
		} else {
			continue // nothing to keep it with (a part stored before the ledger): the fetch wins
		}
		j.stale = append(j.stale, ref)
		j.settled = latest(j.settled, m.Since.Add(r.Bound))
		j.why = append(j.why, fmt.Sprintf("%s: fetched revision %d created %s; served %d created %s since %s gone=%t",
			ref, e.Revision, e.CreatedAt, m.Revision, m.CreatedAt, m.Since.Format(time.RFC3339Nano), m.Gone))
	}
	// Missing is not gone: an entity served within the bound that the
	// answer lacks, with no removal webhook saying it went (a Gone mark),
	// is a lagging edge's too, and stays, in its place among the items.
	top := make(map[string]bool, len(served.Items))
	for _, it := range served.Items {
		top[it.ID] = true
		j.order = append(j.order, it.ID)
	}
	for ref, m := range served.Marks {
		if !missing || m.Gone || now.Sub(m.Since) >= r.Bound {
			continue
		}
		if _, ok := fetched.Entities[ref]; ok {
			continue
		}
		e, ok := served.Entities[ref]
		if !ok {
			continue
		}
		if j.keep == nil {
			j.keep = map[contentful.Ref]contentful.Entity{}
		}
		j.keep[ref] = e
		if _, id, _ := strings.Cut(string(ref), ":"); strings.HasPrefix(string(ref), "Entry:") && top[id] {
			j.restore = append(j.restore, id)
		}
		j.stale = append(j.stale, ref)
		j.settled = latest(j.settled, m.Since.Add(r.Bound))
		j.why = append(j.why, fmt.Sprintf("%s: missing; served %d created %s since %s", ref, m.Revision, m.CreatedAt, m.Since.Format(time.RFC3339Nano)))
	}
	// A kept version comes with what it links where the fetch lacks it:
	// the fetch is an older state, whose absences say nothing of the
	// newer one kept (the new incarnation a kept profile links, say).
	queue := slices.Collect(maps.Keys(j.keep))
	for len(queue) > 0 {
		ref := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		links, err := served.Entities[ref].Links()
		if err != nil {
			continue
		}
		for _, l := range links {
			if _, fetchedToo := fetched.Entities[l]; fetchedToo || j.drop[l] {
				continue
			}
			if _, already := j.keep[l]; already {
				continue
			}
			if e, ok := served.Entities[l]; ok {
				j.keep[l] = e
				queue = append(queue, l)
			}
		}
	}
	return j
}

// apply returns fetched with the judgement applied: the kept served
// versions in place of the stale ones, the dropped entities gone (a dropped
// top-level entry leaves the list; a link to a dropped entity renders as
// null). fetched is not changed.
func (j judgement) apply(fetched *contentful.Collection) *contentful.Collection {
	out := *fetched
	out.Entities = make(map[contentful.Ref]contentful.Entity, len(fetched.Entities)+len(j.keep))
	for ref, e := range fetched.Entities {
		if !j.drop[ref] {
			out.Entities[ref] = e
		}
	}
	maps.Copy(out.Entities, j.keep)
	out.Items = make([]string, 0, len(fetched.Items)+len(j.restore))
	for _, id := range fetched.Items {
		if !j.drop[contentful.EntryRef(id)] {
			out.Items = append(out.Items, id)
		}
	}
	out.Items = restoreItems(out.Items, j.restore, j.order)
	return &out
}

// restoreItems puts kept entries back among items, each right after the
// entry that came before it in the served order (or first).
func restoreItems(items, restore, order []string) []string {
	if len(restore) == 0 {
		return items
	}
	back := make(map[string]bool, len(restore))
	for _, id := range restore {
		back[id] = true
	}
	for i, id := range order {
		if !back[id] || slices.Contains(items, id) {
			continue
		}
		at := 0
		for k := i - 1; k >= 0; k-- {
			if n := slices.Index(items, order[k]); n >= 0 {
				at = n + 1
				break
			}
		}
		items = slices.Insert(items, at, id)
	}
	return items
}

// stale reports whether e, as fetched, is older than what mark records.
func (r Rule) stale(m cache.Mark, e contentful.Entity, now time.Time) bool {
	if now.Sub(m.Since) >= r.Bound {
		return false
	}
	if m.Gone && incarnation(e.CreatedAt, m.DeletedAt) == 1 {
		return false // created after that deletion: a re-creation
	}
	switch incarnation(e.CreatedAt, m.CreatedAt) {
	case 1:
		return false // a later incarnation: re-created
	case -1:
		return true // the one deleted before the served one was created
	}
	if m.Gone {
		return e.Revision <= m.Revision
	}
	return e.Revision < m.Revision
}

// incarnation orders two sys.createdAt values: 1 when a is the later
// incarnation, -1 when the earlier, 0 when they are one incarnation or
// either is unknown.
func incarnation(a, b string) int {
	if a == "" || b == "" || a == b {
		return 0
	}
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	switch {
	case errA != nil || errB != nil:
		return 0
	case ta.After(tb):
		return 1
	case ta.Before(tb):
		return -1
	}
	return 0
}

// marks is the ledger of a part about to be installed (built, not yet
// swapped in): each entity it serves with the time its revision was first
// served, and a Gone mark for each entity the served part had and it has
// not, kept for Bound. A forced install starts the ledger afresh.
func (r Rule) marks(served *cache.Part, c *cache.Part, now time.Time, force bool) map[contentful.Ref]cache.Mark {
	out := make(map[contentful.Ref]cache.Mark, len(c.Refs))
	var before map[contentful.Ref]cache.Mark
	if served != nil && !force {
		before = served.Marks
	}
	for ref, rev := range c.Refs {
		if rev <= 0 {
			continue
		}
		created := c.Entities[ref].CreatedAt
		if m, ok := before[ref]; ok && !m.Gone && m.Revision == rev && m.CreatedAt == created {
			out[ref] = m
			continue
		}
		out[ref] = cache.Mark{Revision: rev, CreatedAt: created, Since: now}
	}
	// A Gone mark comes from a removal webhook (informed), never from an
	// entity merely missing from an answer: a lagging edge may lack an
	// entity as well as hold an old one, and the next answer that shows it
	// must not be taken for the lagging one.
	for ref, m := range before {
		if _, ok := out[ref]; !ok && m.Gone && now.Sub(m.Since) < r.Bound {
			out[ref] = m
		}
	}
	return out
}
