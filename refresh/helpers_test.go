package refresh_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/refresh"
)

const token = "cda-token"

var cols = refresh.Collections{CVTypes: []string{"profile", "skill"}, BlogType: "blogPost", BlogOrder: "-fields.publishDate", SlugField: "slug",
	SummaryFields: []string{"title", "slug"}}

func post(id string, rev int, title string) json.RawMessage {
	return postCreated(id, rev, title, "2025-01-01T00:00:00Z")
}

// postCreated is a post of one incarnation: an entry deleted and re-created
// with the same id has another sys.createdAt.
func postCreated(id string, rev int, title, createdAt string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Entry","id":%q,"revision":%d,"createdAt":%q,"updatedAt":"2025-01-0%dT00:00:00Z",
		"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"blogPost"}}},
		"fields":{"slug":%q,"title":%q,"publishDate":"2025-01-01"}}`, id, rev, createdAt, rev%10, id, title))
}

func profile(name string) json.RawMessage {
	return profileLinking(name, 1)
}

// profileLinking is the profile at a revision, linking the given posts.
func profileLinking(name string, rev int, posts ...string) json.RawMessage {
	links := "[]"
	if len(posts) > 0 {
		links = ""
		for i, p := range posts {
			if i > 0 {
				links += ","
			}
			links += fmt.Sprintf(`{"sys":{"type":"Link","linkType":"Entry","id":%q}}`, p)
		}
		links = "[" + links + "]"
	}
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Entry","id":"me","revision":%d,"createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:0%dZ",
		"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"profile"}}},"fields":{"name":%q,"featured":%s}}`, rev, rev%10, name, links))
}

// engineRun is an engine over a loader of its own store, running until the
// test ends: events go in on events, each finished event's record comes out
// on finals, and ctx ends with the test.
type engineRun struct {
	store  *cache.Store
	loader *refresh.Loader
	events chan<- refresh.Event
	finals <-chan refresh.Record
	ctx    context.Context
}

// runEngine starts an engine whose loader fetches through f.
func runEngine(t *testing.T, f refresh.Fetcher) engineRun {
	t.Helper()
	store := &cache.Store{}
	loader := refresh.NewLoader(f, store, cols, nil)
	finals := make(chan refresh.Record, 10)
	engine := refresh.NewEngine(loader, refresh.EngineOptions{OnFinal: func(r refresh.Record) { finals <- r }}, nil)
	events := make(chan refresh.Event, 10)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { engine.Run(ctx, events); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return engineRun{store: store, loader: loader, events: events, finals: finals, ctx: ctx}
}
