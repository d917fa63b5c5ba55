// Package spacegen generates a real-sized Contentful space for folio's
// benchmarks and tests: a CV (a profile with experience, education, skill and
// project entries), a few authors, and any number of blog posts with
// rich-text bodies of a chosen size that link earlier posts the way real
// blogs do (related posts, entry hyperlinks and inline embeds in the text).
//
// The space is deterministic: the same Options always give the same bytes,
// and post i is the same whatever the number of posts after it. Entities are
// in the Delivery API's single-locale shape, ready for localapi's Put (Space.
// Entities) or Load (Space.Document). Space.Edit makes the next published
// revision of one post, for change benchmarks.
package spacegen

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// DefaultBodyBytes is the size of a post's rich-text body (its JSON) when
// Options.BodyBytes is 0.
const DefaultBodyBytes = 10 * 1024

// Content type ids, folio's defaults (FOLIO_CV_TYPES, FOLIO_BLOG_TYPE).
const (
	TypeProfile    = "profile"
	TypeExperience = "experience"
	TypeEducation  = "education"
	TypeSkill      = "skill"
	TypeProject    = "project"
	TypeAuthor     = "author"
	TypeBlogPost   = "blogPost"
)

// Authors is the number of author entries; each post links one.
const Authors = 3

// lastPublished is the publish date of the newest post; post i of n was
// published n-1-i days earlier.
var lastPublished = time.Date(2026, 1, 5, 7, 30, 0, 0, time.UTC)

// Options describe a space.
type Options struct {
	// Posts is the number of blogPost entries.
	Posts int
	// BodyBytes is the approximate size of each post's rich-text body, as
	// JSON; 0 means DefaultBodyBytes.
	BodyBytes int
	// Seed varies the words and the links; the same seed gives the same space.
	Seed uint64
	// NoPostLinks leaves out every link from a post to another post (related
	// posts, entry hyperlinks, inline embeds), keeping the bodies' size: a
	// space whose cost grows with its size only, not with its link graph.
	NoPostLinks bool
}

// Space is a generated space. Its methods are not safe for concurrent use.
type Space struct {
	// Entries are the entries: the CV, the authors, then the posts in
	// publishing order (post i at Entries[FirstPost+i]).
	Entries []json.RawMessage
	// Assets are the assets: the portrait, project images, avatars and one
	// hero image per post.
	Assets []json.RawMessage
	// FirstPost is the index of post 0 in Entries.
	FirstPost int

	opts  Options
	revs  []int     // the current revision of each post
	clock time.Time // the updatedAt of the last edit
}

// Generate builds the space o describes.
func Generate(o Options) *Space {
	if o.BodyBytes <= 0 {
		o.BodyBytes = DefaultBodyBytes
	}
	s := &Space{opts: o, revs: make([]int, o.Posts), clock: lastPublished.Add(24 * time.Hour)}
	s.cv()
	for a := range Authors {
		s.Entries = append(s.Entries, s.author(a))
	}
	s.FirstPost = len(s.Entries)
	for i := range o.Posts {
		p := s.post(i)
		s.revs[i] = p.rev
		s.Entries = append(s.Entries, p.raw(p.rev, p.updatedAt, ""))
		s.Assets = append(s.Assets, s.asset(HeroID(i), "hero", p.rng, p.published.Add(-2*time.Hour)))
	}
	return s
}

// Entities returns every entry and asset, for localapi.Server.Put.
func (s *Space) Entities() []json.RawMessage {
	out := make([]json.RawMessage, 0, len(s.Entries)+len(s.Assets))
	return append(append(out, s.Entries...), s.Assets...)
}

// Document returns {"entries":[...],"assets":[...]}, for localapi.Server.Load.
func (s *Space) Document() []byte {
	b, err := json.Marshal(struct {
		Entries []json.RawMessage `json:"entries"`
		Assets  []json.RawMessage `json:"assets"`
	}{s.Entries, s.Assets})
	if err != nil {
		panic(err) // the entities are our own valid JSON
	}
	return b
}

// Posts returns the number of posts.
func (s *Space) Posts() int { return s.opts.Posts }

// PostID returns the sys.id of post i.
func PostID(i int) string { return fmt.Sprintf("post-%05d", i) }

// HeroID returns the sys.id of post i's hero image.
func HeroID(i int) string { return fmt.Sprintf("hero-%05d", i) }

// AuthorID returns the sys.id of author a (0 ≤ a < Authors).
func AuthorID(a int) string { return fmt.Sprintf("author-%d", a+1) }

// Slug returns the slug of post i, the path folio serves it at (/blog/{slug}).
func (s *Space) Slug(i int) string { return s.post(i).slug }

// Revision returns post i's current sys.revision.
func (s *Space) Revision(i int) int { return s.revs[i] }

// Edit is the next published revision of a post.
type Edit struct {
	ID, Slug    string
	ContentType string // always TypeBlogPost
	// Revision is the new sys.revision, one more than before.
	Revision int
	// UpdatedAt is the new sys.updatedAt, later than any in the space.
	UpdatedAt string
	// Entry is the post as the Delivery API serves it, for Put.
	Entry json.RawMessage
}

// Edit publishes post i again: its revision goes up by one, its updatedAt
// moves past every other in the space (one minute after the last edit), and
// its excerpt says which revision it is, so the served bytes change. The
// space's Entries hold the new version afterwards.
func (s *Space) Edit(i int) Edit {
	p := s.post(i)
	s.revs[i]++
	s.clock = s.clock.Add(time.Minute)
	rev := s.revs[i]
	raw := p.raw(rev, s.clock, fmt.Sprintf(" (Edited: revision %d.)", rev))
	s.Entries[s.FirstPost+i] = raw
	return Edit{ID: PostID(i), Slug: p.slug, ContentType: TypeBlogPost, Revision: rev, UpdatedAt: stamp(s.clock), Entry: raw}
}

// rng returns the random source of one part of the space: each part has its
// own stream, so post i does not depend on how many posts follow it.
func (s *Space) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(s.opts.Seed, stream))
}

// Streams of the parts that are not posts (posts use their index).
const (
	streamCV     = 1 << 62
	streamAuthor = streamCV + 1000
)

// stamp formats a sys timestamp as the Delivery API does.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// sys returns an entity's sys object.
func sys(typ, id, contentType string, rev int, created, updated time.Time) map[string]any {
	m := map[string]any{
		"type": typ, "id": id, "revision": rev, "locale": "en-US",
		"createdAt": stamp(created), "updatedAt": stamp(updated),
	}
	if contentType != "" {
		m["contentType"] = map[string]any{"sys": map[string]any{"type": "Link", "linkType": "ContentType", "id": contentType}}
	}
	return m
}

// link returns a link to an entry or asset.
func link(linkType, id string) map[string]any {
	return map[string]any{"sys": map[string]any{"type": "Link", "linkType": linkType, "id": id}}
}

// marshal encodes an entity without HTML escaping, as the API does.
func marshal(v any) json.RawMessage {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // only our own maps of strings, numbers and slices
	}
	return json.RawMessage(strings.TrimSuffix(b.String(), "\n"))
}

// asset returns an image asset.
func (s *Space) asset(id, kind string, r *rand.Rand, at time.Time) json.RawMessage {
	w := 800 + 200*r.IntN(7)
	h := w * (9 + r.IntN(4)) / 16
	name := fmt.Sprintf("%s-%s.jpg", kind, strings.Join(words(r, 2), "-"))
	return marshal(map[string]any{
		"sys": sys("Asset", id, "", 1+r.IntN(2), at, at.Add(time.Duration(r.IntN(3600))*time.Second)),
		"fields": map[string]any{
			"title":       sentenceCase(words(r, 3+r.IntN(4))),
			"description": sentence(r, 8, 16),
			"file": map[string]any{
				"url":         fmt.Sprintf("//images.ctfassets.net/spacegen/%s/%016x/%s", id, r.Uint64(), name),
				"fileName":    name,
				"contentType": "image/jpeg",
				"details": map[string]any{
					"size":  20_000 + r.IntN(400_000),
					"image": map[string]any{"width": w, "height": h},
				},
			},
		},
	})
}

// author returns author a's entry and adds its avatar.
func (s *Space) author(a int) json.RawMessage {
	r := s.rng(streamAuthor + uint64(a))
	at := lastPublished.AddDate(-30, 0, a)
	avatar := fmt.Sprintf("avatar-%d", a+1)
	s.Assets = append(s.Assets, s.asset(avatar, "avatar", r, at))
	return marshal(map[string]any{
		"sys": sys("Entry", AuthorID(a), TypeAuthor, 1+r.IntN(3), at, at.Add(48*time.Hour)),
		"fields": map[string]any{
			"name":   personName(r),
			"bio":    sentence(r, 12, 24),
			"avatar": link("Asset", avatar),
		},
	})
}
