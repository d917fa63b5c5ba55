package contentful

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Action is what happened to an entity, from the webhook topic.
type Action string

// The actions folio regenerates for. Others (create, save, auto_save,
// archive of a content type, ...) change nothing the Delivery API serves.
const (
	Publish   Action = "publish"
	Unpublish Action = "unpublish"
	Archive   Action = "archive"
	Delete    Action = "delete"
)

// Removes reports whether the action takes the entity off the Delivery API.
func (a Action) Removes() bool { return a == Unpublish || a == Archive || a == Delete }

// Topic is a parsed X-Contentful-Topic: ContentManagement.<Kind>.<action>.
type Topic struct {
	Kind   string // Entry, Asset, ContentType, ...
	Action Action
}

// ErrTopic marks an X-Contentful-Topic that is not of Contentful's form.
var ErrTopic = errors.New("contentful: malformed topic")

// ParseTopic parses a webhook topic header.
func ParseTopic(s string) (Topic, error) {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || parts[0] != "ContentManagement" || !isWord(parts[1]) || !isWord(parts[2]) {
		return Topic{}, fmt.Errorf("%w: %q is not ContentManagement.<Type>.<action>", ErrTopic, truncate(s, 80))
	}
	return Topic{Kind: parts[1], Action: Action(parts[2])}, nil
}

// Triggers reports whether the topic changes what the Delivery API serves.
func (t Topic) Triggers() bool {
	switch t.Kind {
	case "Entry", "Asset":
		return t.Action == Publish || t.Action.Removes()
	case "ContentType":
		// A content type's publish or removal can change every entry's shape.
		return t.Action == Publish || t.Action == Unpublish || t.Action == Delete
	}
	return false
}

func (t Topic) String() string { return "ContentManagement." + t.Kind + "." + string(t.Action) }

// Change is what a webhook says happened: which entity, at which revision.
type Change struct {
	Kind        string // Entry, Asset or ContentType
	ID          string
	ContentType string // entries: their content type id, when the payload carries it
	Environment string // when the payload carries it
	Space       string
	// Revision is sys.revision: the publish counter, the number the Delivery
	// API shows. Management counters (version, publishedVersion) count edits
	// and are deliberately not read.
	Revision int
	// DeletedAt is sys.deletedAt of a removal's Deleted* payload, "" when
	// absent. (A Deleted* record's own sys.createdAt is when it was made,
	// the deletion, not the entity's: see the sync fixture in
	// shared/fixtures/contentful, so it is not read.)
	DeletedAt string
	// CreatedAt is the entity's sys.createdAt on a publish (the
	// incarnation); "" on a removal, whose Deleted* record has its own.
	CreatedAt string
}

// ErrPayload marks a webhook body that is not a Contentful entity of the
// topic's kind.
var ErrPayload = errors.New("contentful: malformed webhook payload")

// webhookSys is the part of a webhook payload folio reads.
type webhookSys struct {
	Type        string   `json:"type"`
	ID          string   `json:"id"`
	Revision    int      `json:"revision"`
	DeletedAt   string   `json:"deletedAt"`
	CreatedAt   string   `json:"createdAt"`
	ContentType *sysLink `json:"contentType"`
	Environment *sysLink `json:"environment"`
	Space       *sysLink `json:"space"`
}

type sysLink struct {
	Sys struct {
		ID string `json:"id"`
	} `json:"sys"`
}

func (l *sysLink) id() string {
	if l == nil {
		return ""
	}
	return l.Sys.ID
}

// ParseChange reads a webhook body: the full entity on publish, or the
// Deleted* shape with sys only on unpublish and delete. The body's sys.type
// must agree with the topic.
func ParseChange(t Topic, body []byte) (Change, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return Change{}, fmt.Errorf("%w: empty body", ErrPayload)
	}
	var p struct {
		Sys *webhookSys `json:"sys"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Change{}, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if p.Sys == nil || p.Sys.ID == "" || p.Sys.Type == "" {
		return Change{}, fmt.Errorf("%w: no sys.id and sys.type", ErrPayload)
	}
	kind := strings.TrimPrefix(p.Sys.Type, "Deleted")
	if kind != t.Kind {
		return Change{}, fmt.Errorf("%w: sys.type %q does not match the topic %s", ErrPayload, truncate(p.Sys.Type, 40), t)
	}
	if p.Sys.Revision < 0 {
		return Change{}, fmt.Errorf("%w: negative sys.revision", ErrPayload)
	}
	created := p.Sys.CreatedAt
	if kind != p.Sys.Type {
		created = "" // a Deleted* record's createdAt is the deletion's
	}
	return Change{
		Kind: kind, ID: p.Sys.ID, ContentType: p.Sys.ContentType.id(), CreatedAt: created,
		Environment: p.Sys.Environment.id(), Space: p.Sys.Space.id(), Revision: p.Sys.Revision,
		DeletedAt: p.Sys.DeletedAt,
	}, nil
}

// Ref names the changed entity as snapshots record it.
func (c Change) Ref() Ref { return Ref(c.Kind + ":" + c.ID) }

func isWord(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// WebhookBody builds the body Contentful sends for a change: the entity on
// publish, the Deleted* shape (sys only) on unpublish, archive and delete.
// `folio webhook send`, the demo's test bench and the tests use it.
func WebhookBody(t Topic, c Change, now time.Time) []byte {
	ts := now.UTC().Format("2006-01-02T15:04:05.000Z")
	link := func(linkType, id string) map[string]any {
		return map[string]any{"sys": map[string]any{"type": "Link", "linkType": linkType, "id": id}}
	}
	sys := map[string]any{
		"type": c.Kind, "id": c.ID, "revision": c.Revision,
		"space": link("Space", c.Space), "environment": link("Environment", c.Environment),
		"updatedAt": ts,
	}
	if c.CreatedAt != "" {
		// Only a known one: an invented createdAt would name another
		// incarnation than the entry served.
		sys["createdAt"] = c.CreatedAt
	}
	if c.ContentType != "" && c.Kind == "Entry" {
		sys["contentType"] = link("ContentType", c.ContentType)
	}
	body := map[string]any{"sys": sys}
	if t.Action.Removes() {
		sys["type"] = "Deleted" + c.Kind
		sys["deletedAt"] = ts
	} else {
		// Management counters Contentful also sends; folio must not compare
		// them with sys.revision (they count edits, not publishes).
		sys["version"] = c.Revision*2 + 1
		sys["publishedVersion"] = c.Revision * 2
		sys["publishedCounter"] = c.Revision
		body["fields"] = map[string]any{}
		body["metadata"] = map[string]any{"tags": []any{}}
	}
	b, _ := json.Marshal(body) // maps of strings and ints always marshal
	return b
}

// WebhookMediaType is the Content-Type of Contentful's webhook calls.
const WebhookMediaType = "application/vnd.contentful.management.v1+json"

// SetWebhookHeaders sets the headers Contentful sends with a webhook of
// topic t (Content-Type, X-Contentful-Topic, X-Contentful-Webhook-Name
// as name) and returns their names, the headers to sign beside the
// signature's own. `folio webhook send` and the demo's test bench send
// webhooks with them.
func SetWebhookHeaders(h http.Header, t Topic, name string) []string {
	h.Set("Content-Type", WebhookMediaType)
	h.Set("X-Contentful-Topic", t.String())
	h.Set("X-Contentful-Webhook-Name", name)
	return []string{"Content-Type", "X-Contentful-Topic", "X-Contentful-Webhook-Name"}
}
