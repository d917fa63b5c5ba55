package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// The oracle's space: one profile, a few posts, a few assets. Slugs are the
// post's id or id+"-b", so the routes the oracle compares are known up front.
var (
	oraclePosts   = []string{"p1", "p2", "p3", "p4"}
	oracleAssets  = []string{"a1", "a2"}
	oracleProfile = "me"
	oracleDates   = []string{"2025-01-01", "2025-02-01", "2025-03-01"}
)

// oracleSlugs is every slug a post of the oracle's space can have.
func oracleSlugs() []string {
	var out []string
	for _, p := range oraclePosts {
		out = append(out, p, p+"-b")
	}
	return out
}

// oEntity is the editor's view of one entry or asset: what Contentful's
// management side knows, of which the Delivery API serves the published part.
type oEntity struct {
	kind        string // Entry or Asset
	id          string
	contentType string // entries only
	exists      bool   // created and not deleted
	published   bool
	archived    bool
	revision    int    // sys.revision: the publish counter of this incarnation
	createdAt   string // the incarnation: a re-created entity gets a new one
	updatedAt   string
	fields      map[string]any // single-locale draft fields
}

func (e *oEntity) key() string { return e.kind + ":" + e.id }

// cdnChange is one change of what the Delivery API serves.
type cdnChange struct {
	put []json.RawMessage
	del []string // qualified ids, "Entry:p1"
}

// hook is one webhook Contentful sends.
type hook struct {
	topic       string // ContentManagement.Entry.publish
	action      string
	entity      string // Entry:p1
	revision    int
	incarnation string
	body        []byte
	idem        string // X-Contentful-Idempotency-Key, shared by duplicates
}

// edit is one step of an editor's operation: a change of the Delivery API
// (or none), then the webhook Contentful sends for it (or none).
type edit struct {
	change *cdnChange
	hook   *hook
}

// history is one change of an entity's published state, for the check of
// failed events: which webhook said what, and what came after.
type history struct {
	entity      string
	action      string // publish or a removal (unpublish, archive, delete)
	revision    int
	incarnation string
}

// editor is the oracle's Contentful: the truth about the space, changed by
// random editor operations.
type editor struct {
	// noRecreate keeps a deleted entity deleted: no new incarnation of an
	// id (-oracle.recreate=false).
	noRecreate bool

	rnd      *rand.Rand
	ents     map[string]*oEntity
	last     time.Time
	serial   int
	timeline []history
}

func newEditor(rnd *rand.Rand) *editor {
	ed := &editor{rnd: rnd, ents: map[string]*oEntity{}}
	for _, id := range oraclePosts {
		ed.ents["Entry:"+id] = &oEntity{kind: "Entry", id: id, contentType: "blogPost"}
	}
	for _, id := range oracleAssets {
		ed.ents["Asset:"+id] = &oEntity{kind: "Asset", id: id}
	}
	ed.ents["Entry:"+oracleProfile] = &oEntity{kind: "Entry", id: oracleProfile, contentType: "profile"}
	return ed
}

// now is the editor's clock: wall time in milliseconds, strictly increasing,
// so every publish moves updatedAt forward as Contentful's does.
func (ed *editor) now() string {
	t := time.Now().UTC().Truncate(time.Millisecond)
	if !t.After(ed.last) {
		t = ed.last.Add(time.Millisecond)
	}
	ed.last = t
	return t.Format("2006-01-02T15:04:05.000Z")
}

// tick starts an operation: the clock moves at least a second past the
// last one (editors are slower than the oracle), so that Last-Modified's
// whole seconds tell every operation's updatedAt apart.
func (ed *editor) tick() {
	if !ed.last.IsZero() {
		ed.last = ed.last.Add(time.Second).Truncate(time.Second)
	}
}

// initial publishes the starting space: the profile linking p1, posts p1
// and p2, asset a1 as p1's hero. It returns the documents to put on every
// edge before folio starts; no webhooks.
func (ed *editor) initial() []json.RawMessage {
	var docs []json.RawMessage
	a1 := ed.ents["Asset:a1"]
	ed.create(a1)
	a1.fields = assetFields(a1)
	docs = append(docs, ed.publishDoc(a1))
	for _, id := range []string{"p1", "p2"} {
		p := ed.ents["Entry:"+id]
		ed.create(p)
		p.fields = map[string]any{"slug": id, "title": id + " first", "publishDate": oracleDates[0], "body": "hello"}
		if id == "p1" {
			p.fields["hero"] = link("Asset", "a1")
		}
		docs = append(docs, ed.publishDoc(p))
	}
	me := ed.ents["Entry:"+oracleProfile]
	ed.create(me)
	me.fields = map[string]any{"name": "Ada", "posts": []any{link("Entry", "p1")}}
	docs = append(docs, ed.publishDoc(me))
	ed.timeline = nil
	return docs
}

func link(linkType, id string) map[string]any {
	return map[string]any{"sys": map[string]any{"type": "Link", "linkType": linkType, "id": id}}
}

// assetFields are an asset's fields; the title carries the incarnation and
// the revision it will be published at, because folio's asset JSON has no
// sys (the revision check reads them back from there).
func assetFields(a *oEntity) map[string]any {
	return map[string]any{
		"title":       fmt.Sprintf("%s|%s|%d", a.id, a.createdAt, a.revision+1),
		"description": "hero image",
		"file": map[string]any{
			"url": fmt.Sprintf("//images.example/%s-%d.png", a.id, a.revision+1), "contentType": "image/png",
			"details": map[string]any{"size": 1000 + a.revision, "image": map[string]any{"width": 800, "height": 600}},
		},
	}
}

func (ed *editor) create(e *oEntity) {
	e.exists, e.published, e.archived, e.revision = true, false, false, 0
	e.createdAt = ed.now()
	e.updatedAt = e.createdAt
}

// publishDoc publishes e (revision+1, updatedAt now) and returns its
// Delivery API document.
func (ed *editor) publishDoc(e *oEntity) json.RawMessage {
	e.revision++
	e.published, e.archived = true, false
	e.updatedAt = ed.now()
	sys := map[string]any{"type": e.kind, "id": e.id, "revision": e.revision, "createdAt": e.createdAt, "updatedAt": e.updatedAt}
	if e.kind == "Entry" {
		sys["contentType"] = map[string]any{"sys": map[string]any{"type": "Link", "linkType": "ContentType", "id": e.contentType}}
	}
	b, _ := json.Marshal(map[string]any{"sys": sys, "fields": e.fields})
	ed.timeline = append(ed.timeline, history{e.key(), "publish", e.revision, e.createdAt})
	return b
}

// webhook builds the webhook Contentful sends for action on e as it is now:
// the entity with locale-keyed fields on publish (and the other topics
// carrying an entity), the Deleted* shape with sys only on a removal.
func (ed *editor) webhook(e *oEntity, action string) *hook {
	ed.serial++
	ts := ed.last.Format("2006-01-02T15:04:05.000Z")
	sys := map[string]any{
		"type": e.kind, "id": e.id, "revision": e.revision, "createdAt": e.createdAt, "updatedAt": e.updatedAt,
		"space":       map[string]any{"sys": map[string]any{"type": "Link", "linkType": "Space", "id": "s"}},
		"environment": map[string]any{"sys": map[string]any{"type": "Link", "linkType": "Environment", "id": "master"}},
	}
	if e.kind == "Entry" {
		sys["contentType"] = map[string]any{"sys": map[string]any{"type": "Link", "linkType": "ContentType", "id": e.contentType}}
	}
	body := map[string]any{"sys": sys}
	switch action {
	case "unpublish", "archive", "delete":
		sys["type"] = "Deleted" + e.kind
		sys["deletedAt"] = ts
	default:
		sys["version"] = e.revision*2 + 1
		sys["publishedVersion"] = e.revision * 2
		sys["publishedCounter"] = e.revision
		loc := map[string]any{}
		for k, v := range e.fields {
			loc[k] = map[string]any{"en-US": v}
		}
		body["fields"] = loc
		body["metadata"] = map[string]any{"tags": []any{}}
	}
	b, _ := json.Marshal(body)
	sum := sha256.Sum256(fmt.Appendf(nil, "%s|%s|%s|%d|%d", action, e.key(), e.createdAt, e.revision, ed.serial))
	return &hook{
		topic: "ContentManagement." + e.kind + "." + action, action: action, entity: e.key(),
		revision: e.revision, incarnation: e.createdAt, body: b, idem: hex.EncodeToString(sum[:]),
	}
}

// publish creates e when needed and publishes it with fields changed by
// mutate: a Delivery API put and the publish webhook (after a create topic,
// which folio ignores, for a new entity).
func (ed *editor) publish(e *oEntity, mutate func(map[string]any)) []edit {
	var out []edit
	if !e.exists && e.createdAt != "" && ed.noRecreate {
		return nil
	}
	if !e.exists {
		ed.create(e)
		e.fields = ed.freshFields(e)
		out = append(out, edit{hook: ed.webhook(e, "create")})
	} else if e.archived {
		out = append(out, edit{hook: ed.webhook(e, "unarchive")})
	}
	if mutate != nil {
		mutate(e.fields)
	}
	if e.kind == "Asset" {
		e.fields = assetFields(e)
	}
	doc := ed.publishDoc(e)
	return append(out, edit{change: &cdnChange{put: []json.RawMessage{doc}}, hook: ed.webhook(e, "publish")})
}

func (ed *editor) freshFields(e *oEntity) map[string]any {
	switch {
	case e.kind == "Asset":
		return assetFields(e)
	case e.contentType == "profile":
		return map[string]any{"name": "Ada", "posts": []any{}}
	}
	return map[string]any{"slug": e.id, "title": e.id + " new", "publishDate": oracleDates[ed.rnd.IntN(len(oracleDates))], "body": "fresh"}
}

// remove takes e off the Delivery API (when published) and then archives
// or deletes it; action is unpublish, archive or delete.
func (ed *editor) remove(e *oEntity, action string) []edit {
	var out []edit
	if e.published {
		e.published = false
		out = append(out, edit{change: &cdnChange{del: []string{e.key()}}, hook: ed.webhook(e, "unpublish")})
		ed.timeline = append(ed.timeline, history{e.key(), "unpublish", e.revision, e.createdAt})
	}
	switch action {
	case "archive":
		e.archived = true
	case "delete":
		e.exists = false
	}
	if action != "unpublish" {
		out = append(out, edit{hook: ed.webhook(e, action)})
		ed.timeline = append(ed.timeline, history{e.key(), action, e.revision, e.createdAt})
	}
	return out
}

// step performs one random editor operation and describes it.
func (ed *editor) step() (string, []edit) {
	ed.tick()
	pick := func(ids []string) string { return ids[ed.rnd.IntN(len(ids))] }
	post := ed.ents["Entry:"+pick(oraclePosts)]
	asset := ed.ents["Asset:"+pick(oracleAssets)]
	me := ed.ents["Entry:"+oracleProfile]
	switch n := ed.rnd.IntN(100); {
	case n < 22: // create or edit and publish a post
		return "publish " + post.id, ed.publish(post, func(f map[string]any) {
			f["title"] = fmt.Sprintf("%s edited %d", post.id, ed.rnd.IntN(1000))
			f["publishDate"] = oracleDates[ed.rnd.IntN(len(oracleDates))]
			if ed.rnd.IntN(4) == 0 {
				f["slug"] = pick([]string{post.id, post.id + "-b"})
			}
		})
	case n < 32:
		if !post.published {
			return "unpublish " + post.id + " (not published: nothing)", nil
		}
		return "unpublish " + post.id, ed.remove(post, "unpublish")
	case n < 38:
		if !post.exists || post.archived {
			return "archive " + post.id + " (nothing)", nil
		}
		return "archive " + post.id, ed.remove(post, "archive")
	case n < 45:
		if !post.exists {
			return "delete " + post.id + " (nothing)", nil
		}
		return "delete " + post.id, ed.remove(post, "delete")
	case n < 53: // delete and re-create with the same id: revision 1, new createdAt
		if ed.noRecreate {
			return "re-create " + post.id + " (re-creation off: nothing)", nil
		}
		var out []edit
		if post.exists {
			out = ed.remove(post, "delete")
		}
		return "re-create " + post.id, append(out, ed.publish(post, nil)...)
	case n < 63: // link or unlink a post from the profile
		posts, _ := me.fields["posts"].([]any)
		i := slices.IndexFunc(posts, func(v any) bool { return v.(map[string]any)["sys"].(map[string]any)["id"] == post.id })
		if i >= 0 {
			return "unlink " + post.id + " from the profile", ed.publish(me, func(f map[string]any) { f["posts"] = slices.Delete(slices.Clone(posts), i, i+1) })
		}
		return "link " + post.id + " from the profile", ed.publish(me, func(f map[string]any) { f["posts"] = append(slices.Clone(posts), link("Entry", post.id)) })
	case n < 70: // hero asset
		if ed.rnd.IntN(3) == 0 {
			return "publish " + post.id + " without hero", ed.publish(post, func(f map[string]any) { delete(f, "hero") })
		}
		return "publish " + post.id + " with hero " + asset.id, ed.publish(post, func(f map[string]any) { f["hero"] = link("Asset", asset.id) })
	case n < 76: // related post
		other := pick(oraclePosts)
		if other == post.id || ed.rnd.IntN(3) == 0 {
			return "publish " + post.id + " without related", ed.publish(post, func(f map[string]any) { delete(f, "related") })
		}
		return "publish " + post.id + " related to " + other, ed.publish(post, func(f map[string]any) { f["related"] = link("Entry", other) })
	case n < 84:
		return "publish asset " + asset.id, ed.publish(asset, nil)
	case n < 88:
		if !asset.published {
			return "unpublish asset " + asset.id + " (nothing)", nil
		}
		return "unpublish asset " + asset.id, ed.remove(asset, "unpublish")
	case n < 92:
		var out []edit
		if asset.exists {
			out = ed.remove(asset, "delete")
		}
		if ed.rnd.IntN(2) == 0 || ed.noRecreate {
			return "delete asset " + asset.id, out
		}
		return "re-create asset " + asset.id, append(out, ed.publish(asset, nil)...)
	case n < 96:
		return "edit profile", ed.publish(me, func(f map[string]any) { f["name"] = fmt.Sprintf("Ada %d", ed.rnd.IntN(100)) })
	default: // a draft save: a webhook folio must ignore, no Delivery API change
		if !post.exists {
			return "auto_save " + post.id + " (nothing)", nil
		}
		post.updatedAt = ed.now()
		return "auto_save " + post.id, []edit{{hook: ed.webhook(post, "auto_save")}}
	}
}

// reflects reports whether the final content reflects the change a webhook
// announced: a publish of revision r whose entity (same incarnation) has
// stayed published since, and which the fresh build (holds: entity → its
// incarnation and revision there) serves at r or later; a removal whose
// entity has stayed off the Delivery API since.
func (ed *editor) reflects(entity, action string, revision int, holds map[string]seenRev) (bool, string) {
	e := ed.ents[entity]
	if e == nil {
		return false, ""
	}
	last := -1
	for i, h := range ed.timeline {
		if h.entity == entity && h.action == action && h.revision == revision {
			last = i
		}
	}
	if last < 0 {
		return false, ""
	}
	h := ed.timeline[last]
	for _, later := range ed.timeline[last+1:] {
		if later.entity == entity && (later.action == "publish") != (action == "publish") {
			return false, ""
		}
	}
	if action == "publish" {
		if f, ok := holds[entity]; ok && e.published && e.createdAt == h.incarnation && f.incarnation == h.incarnation && f.revision >= revision {
			return true, fmt.Sprintf("a fresh build serves %s at revision %d", entity, f.revision)
		}
		return false, ""
	}
	if !e.published {
		return true, fmt.Sprintf("%s is finally gone", entity)
	}
	return false, ""
}

// describe lists the final truth, for failure reports.
func (ed *editor) describe() string {
	var b strings.Builder
	keys := make([]string, 0, len(ed.ents))
	for k := range ed.ents {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e := ed.ents[k]
		state := "never created"
		switch {
		case e.published:
			state = fmt.Sprintf("published r%d", e.revision)
		case e.archived:
			state = fmt.Sprintf("archived r%d", e.revision)
		case e.exists:
			state = fmt.Sprintf("draft r%d", e.revision)
		case e.createdAt != "":
			state = "deleted"
		}
		fmt.Fprintf(&b, "  %s: %s (createdAt %s)\n", k, state, e.createdAt)
	}
	return b.String()
}
