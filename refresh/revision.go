package refresh

import (
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
//     again at revision 1) and only within Bound of when the served version
//     was first served. Contentful's CDN lags a publish by seconds to minutes
//     (CONTENTFUL.md); once the lag bound has passed, what the Delivery API
//     answers is the truth.
//   - An entity that was served and then went away (unpublished, archived,
//     deleted, or no longer linked) is remembered as Gone for Bound; a
//     lagging answer that brings it back at the revision it had, or lower, is
//     stale and the entity stays away. Republished, it has a higher revision;
//     re-created, another createdAt: either is fresh.
//   - A stale entity never holds the rest of its collection back: the fresh
//     entities are installed beside the served version of the stale one, and
//     the collection is fetched again until the lag bound ends the question.
//
// A Redis follower does not apply the rule: it installs what the leader
// decided.
type Rule struct {
	// Bound is the CDN lag bound, FOLIO_CDN_WAIT.
	Bound time.Duration
}

// judgement is the rule applied to one fetch: the served versions to keep,
// the entities to leave out, and which entities were stale.
type judgement struct {
	keep  map[contentful.Ref]contentful.Entity
	drop  map[contentful.Ref]bool
	stale []contentful.Ref
}

// judge compares a fetch with the served part, entity by entity.
func (r Rule) judge(served *cache.Part, fetched *contentful.Collection, now time.Time) judgement {
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
	}
	return j
}

// apply returns fetched with the judgement applied: the kept served
// versions in place of the stale ones, the dropped entities gone (a dropped
// top-level entry leaves the list; a link to a dropped entity renders as
// null). fetched is not changed.
func (j judgement) apply(fetched *contentful.Collection) *contentful.Collection {
	out := *fetched
	out.Entities = make(map[contentful.Ref]contentful.Entity, len(fetched.Entities))
	for ref, e := range fetched.Entities {
		if kept, ok := j.keep[ref]; ok {
			e = kept
		}
		if !j.drop[ref] {
			out.Entities[ref] = e
		}
	}
	out.Items = make([]string, 0, len(fetched.Items))
	for _, id := range fetched.Items {
		if !j.drop[contentful.EntryRef(id)] {
			out.Items = append(out.Items, id)
		}
	}
	return &out
}

// stale reports whether e, as fetched, is older than what mark records.
func (r Rule) stale(m cache.Mark, e contentful.Entity, now time.Time) bool {
	if now.Sub(m.Since) >= r.Bound {
		return false
	}
	if m.CreatedAt != "" && e.CreatedAt != "" && m.CreatedAt != e.CreatedAt {
		return false // another incarnation
	}
	if m.Gone {
		return e.Revision <= m.Revision
	}
	return e.Revision < m.Revision
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
	for ref, m := range before {
		if _, ok := out[ref]; ok {
			continue
		}
		switch {
		case !m.Gone:
			out[ref] = cache.Mark{Revision: m.Revision, CreatedAt: m.CreatedAt, Since: now, Gone: true}
		case now.Sub(m.Since) < r.Bound:
			out[ref] = m
		}
	}
	return out
}
