package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/folio-cms/folio/contentful"
)

// BuildCV serialises the CV: one object keyed by content type id, each an
// array of that type's entries in the fetched order. Every configured type is
// present, empty or not, so a frontend can rely on the keys. prev, the part
// it will replace (or nil), lends its resource when the bytes are the same.
// It fails only with ctx's error or an encoding error.
func BuildCV(ctx context.Context, types []string, c *contentful.Collection, prev *Part) (*Part, error) {
	byType := make(map[string][]*contentful.Entry, len(types))
	for _, t := range types {
		byType[t] = []*contentful.Entry{}
	}
	var modified time.Time
	for _, e := range c.Entries {
		if _, ok := byType[e.ContentType]; ok {
			byType[e.ContentType] = append(byType[e.ContentType], e)
			modified = latest(modified, e.Modified())
		}
	}
	// The keys keep FOLIO_CV_TYPES' order (a map would sort them), so the
	// document reads as its owner arranged the CV.
	body := []byte{'{'}
	for i, t := range types {
		if i > 0 {
			body = append(body, ',')
		}
		key, _ := json.Marshal(t)
		list, err := json.Marshal(byType[t])
		if err != nil {
			return nil, fmt.Errorf("cache: encoding the CV's %s entries: %w", t, err)
		}
		body = append(append(append(body, key...), ':'), list...)
	}
	body = append(body, '}')
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var was *Resource
	if prev != nil {
		was = prev.Root
	}
	return newPart(CV, resource(was, body, modified, prev == nil), c), nil
}

// newPart holds a built collection with what the refresh side needs to
// know about it.
func newPart(col Collection, root *Resource, c *contentful.Collection) *Part {
	return &Part{
		Collection: col,
		Root:       root,
		Entries:    len(c.Entries),
		Refs:       c.Refs,
		Entities:   c.Entities,
		FetchedAt:  time.Now(),
		Took:       c.Took,
		Requests:   c.Requests,
	}
}

// blogList is the JSON of GET /blog.
type blogList struct {
	Total int                 `json:"total"`
	Items []*contentful.Entry `json:"items"`
}

// BuildBlog serialises the post list and every post addressed by its slug
// field. Posts whose bytes did not change keep prev's resource, so a refresh
// of a large blog compresses only what changed. A post with no slug is listed
// but not addressable; of two posts with one slug, the first in order wins
// and the second is reported in skipped. It checks ctx between posts, so a
// shutdown does not wait for a large build; it fails only with ctx's error
// or an encoding error.
func BuildBlog(ctx context.Context, slugField string, c *contentful.Collection, prev *Part) (p *Part, skipped []string, err error) {
	var modified time.Time
	posts := make(map[string]*Resource, len(c.Entries))
	for _, e := range c.Entries {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		modified = latest(modified, e.Modified())
		slug, _ := e.Fields[slugField].(string)
		if slug == "" {
			skipped = append(skipped, e.ID+": no "+slugField)
			continue
		}
		if _, dup := posts[slug]; dup {
			skipped = append(skipped, e.ID+": duplicate "+slugField+" "+slug)
			continue
		}
		body, err := json.Marshal(e)
		if err != nil {
			return nil, nil, fmt.Errorf("cache: encoding post %s: %w", e.ID, err)
		}
		var was *Resource
		if prev != nil {
			was = prev.Posts[slug]
		}
		posts[slug] = resource(was, body, e.Modified(), prev == nil)
	}
	body, err := json.Marshal(blogList{Total: len(c.Entries), Items: c.Entries})
	if err != nil {
		return nil, nil, fmt.Errorf("cache: encoding the blog: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var was *Resource
	if prev != nil {
		was = prev.Root
	}
	p = newPart(Blog, resource(was, body, modified, prev == nil), c)
	p.Posts = posts
	return p, skipped, nil
}

// resource returns was when its bytes are body (nothing is compressed
// again), else a new resource. Its Last-Modified is the latest updatedAt
// inside; on a first build (no part before it in this process, first is
// true) at least the build's time, because nothing records what an earlier
// process gave out. The Store moves it further forward where needed
// (validators.go).
func resource(was *Resource, body []byte, modified time.Time, first bool) *Resource {
	if was != nil && string(was.Body()) == string(body) {
		return was
	}
	if first || modified.IsZero() {
		modified = latest(modified, time.Now())
	}
	return NewResource(body, modified)
}
