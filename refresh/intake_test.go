package refresh_test

import (
	"context"
	"testing"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/refresh"
)

// TestRecreatedPublishIsNotADuplicate: without an idempotency key (folio
// webhook send, a proxy that drops the header), a change is its entity,
// action, revision and incarnation: the re-created entry's publish at
// revision 1 is not the deleted entry's.
func TestRecreatedPublishIsNotADuplicate(t *testing.T) {
	q := refresh.NewMemoryQueue(10)
	in := refresh.NewIntake(&cache.Store{}, q, refresh.NewMemoryDedup(time.Hour, 100), nil, refresh.IntakeOptions{Collections: cols})
	publish := contentful.Topic{Kind: "Entry", Action: contentful.Publish}
	body := func(created string) []byte {
		return []byte(`{"sys":{"type":"Entry","id":"p","revision":1,"createdAt":"` + created +
			`","contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"blogPost"}}},"fields":{}}`)
	}
	for i, c := range []struct {
		created string
		want    refresh.Outcome
	}{
		{"2025-01-01T00:00:00Z", refresh.Accepted},
		{"2025-01-01T00:00:00Z", refresh.Duplicate},
		{"2026-01-01T00:00:00Z", refresh.Accepted}, // re-created
	} {
		r, err := in.Receive(context.Background(), refresh.Delivery{Topic: publish, Body: body(c.created)})
		if err != nil || r.Outcome != c.want {
			t.Fatalf("delivery %d: %v %v, want %s", i, r.Outcome, err, c.want)
		}
	}
}
