// Package demo is demo mode's webhook test bench. It changes an entry of
// the demo's local Delivery API as an editor does in Contentful's web app (a
// publish gives the entry a new sys.revision and updatedAt; an unpublish
// takes it away), then sends folio's own webhook route the signed call
// Contentful would send, so that a visitor of the dashboard watches a
// webhook travel to the served content. Contentful has no such playground.
//
// The bench exists only in demo mode: it changes the content folio serves.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/folio-cms/folio/contentful"
)

// Space is where the bench changes entries: the demo's local Delivery API
// (localapi.Server).
type Space interface {
	Put(entities ...json.RawMessage) error
	Delete(ids ...string)
}

// Sender delivers a webhook to folio and returns its answer (WebhookSender).
type Sender interface {
	Send(ctx context.Context, t contentful.Topic, body []byte) (Answer, error)
}

// MaxFieldBytes bounds an edited field's value.
const MaxFieldBytes = 10_000

// Errors of the bench, each one kind of bad input or refusal.
var (
	// ErrNoEntry: no demo entry has the id.
	ErrNoEntry = errors.New("demo: no demo entry has that id")
	// ErrInput: an edit names a field the entry has no text field of, or
	// gives a value over MaxFieldBytes or not UTF-8.
	ErrInput = errors.New("demo: invalid edit")
	// ErrNotPublished: an unpublish of an entry that is not published.
	ErrNotPublished = errors.New("demo: the entry is not published")
)

// WebhookError is folio's refusal of the bench's webhook (or a failure to
// reach it). The entry is changed in the local Delivery API all the same,
// as in Contentful, where a failed webhook leaves the entry published; the
// safety refresh repairs such a miss.
type WebhookError struct {
	Status int    // the HTTP status folio answered; 0 when it was not reached
	Code   string // the error code of folio's answer, or "unreachable"
	Reason string
}

func (e *WebhookError) Error() string {
	if e.Status == 0 {
		return "folio's webhook route could not be reached: " + e.Reason
	}
	return "folio's webhook route answered " + strconv.Itoa(e.Status) + " " + e.Code + ": " + e.Reason
}

// Options are what the bench knows of the demo space and of folio's
// collections.
type Options struct {
	Space, Environment string   // the demo space's ids, which the webhook names
	BlogType           string   // content type of posts (FOLIO_BLOG_TYPE)
	SlugField          string   // the field a post is served by (FOLIO_BLOG_SLUG_FIELD)
	CVTypes            []string // content types of the CV (FOLIO_CV_TYPES)
	Now                func() time.Time
}

// Bench keeps the demo's entries as the bench last published them (an
// unpublished entry included, so it can be published again) and changes
// them in the Space. Its methods are safe for concurrent use; changes are
// made and sent one at a time, so webhooks arrive in revision order.
type Bench struct {
	space Space
	send  Sender
	opts  Options

	mu      sync.Mutex
	order   []string
	entries map[string]*entry
}

type entry struct {
	doc       map[string]any // the entity in the Delivery API's shape
	published bool
}

// New reads the entries of doc, a space document {"entries": [...],
// "assets": [...]} as localapi.Server.Load takes (web.DemoSpace), which
// space is serving.
func New(doc []byte, space Space, send Sender, opts Options) (*Bench, error) {
	var d struct {
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("demo: the space document: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Bench{space: space, send: send, opts: opts, entries: map[string]*entry{}}
	for i, e := range d.Entries {
		id := sysString(e, "id")
		if id == "" || b.entries[id] != nil {
			return nil, fmt.Errorf("demo: entry %d has no sys.id, or one seen before", i)
		}
		b.order = append(b.order, id)
		b.entries[id] = &entry{doc: e, published: true}
	}
	return b, nil
}

// Entry is one demo entry as the bench shows it.
type Entry struct {
	ID          string `json:"id"`
	ContentType string `json:"contentType"`
	Revision    int    `json:"revision"`
	Published   bool   `json:"published"`
	UpdatedAt   string `json:"updatedAt"`
	// Fields are the entry's text fields, the ones the bench edits; the
	// others (links, lists, rich text) are kept as they are.
	Fields map[string]string `json:"fields"`
	// Path is where folio serves it: /blog/{slug} for a post (escaped as
	// a browser's encodeURIComponent of each segment would), /cv for a
	// CV entry, /blog for what posts link (an author).
	Path string `json:"path"`
}

// Entries lists the demo entries in the space document's order.
func (b *Bench) Entries() []Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Entry, 0, len(b.order))
	for _, id := range b.order {
		out = append(out, b.show(b.entries[id]))
	}
	return out
}

// Result is what a publish or unpublish did: the entry as it now is, the
// webhook topic sent, and folio's answer (Answer.EventID names the event to
// follow in the history).
type Result struct {
	Entry   Entry  `json:"entry"`
	Topic   string `json:"topic"`
	Webhook Answer `json:"webhook"`
}

// Publish sets the given text fields of the entry (name → new value; none
// republishes it as it is), publishes it in the Space at the next
// sys.revision with updatedAt now, and sends the publish webhook. Errors:
// ErrNoEntry, ErrInput (nothing changed), *WebhookError (the entry changed).
func (b *Bench) Publish(ctx context.Context, id string, fields map[string]string) (Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[id]
	if !ok {
		return Result{}, ErrNoEntry
	}
	old, _ := e.doc["fields"].(map[string]any)
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		v := fields[name]
		if _, isText := old[name].(string); !isText {
			return Result{}, fmt.Errorf("%w: %s has no text field %s", ErrInput, id, strconv.Quote(clip(name)))
		}
		if len(v) > MaxFieldBytes || !utf8.ValidString(v) {
			return Result{}, fmt.Errorf("%w: %s must be UTF-8 text of at most %d bytes", ErrInput, strconv.Quote(name), MaxFieldBytes)
		}
	}
	doc := maps.Clone(e.doc)
	newFields := maps.Clone(old)
	if newFields == nil {
		newFields = map[string]any{}
	}
	for name, v := range fields {
		newFields[name] = v
	}
	doc["fields"] = newFields
	sys := maps.Clone(e.doc["sys"].(map[string]any))
	sys["revision"] = revision(e.doc) + 1
	sys["updatedAt"] = b.opts.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	doc["sys"] = sys
	raw, err := json.Marshal(doc)
	if err != nil {
		return Result{}, fmt.Errorf("demo: %s: %w", id, err)
	}
	if err := b.space.Put(raw); err != nil {
		return Result{}, fmt.Errorf("demo: %s: %w", id, err)
	}
	e.doc, e.published = doc, true
	return b.notify(ctx, e, contentful.Publish)
}

// Unpublish takes the entry out of the Space and sends the unpublish
// webhook, which names the revision it had. Errors: ErrNoEntry,
// ErrNotPublished, *WebhookError (the entry is gone all the same).
func (b *Bench) Unpublish(ctx context.Context, id string) (Result, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[id]
	switch {
	case !ok:
		return Result{}, ErrNoEntry
	case !e.published:
		return Result{}, ErrNotPublished
	}
	b.space.Delete("Entry:" + id)
	e.published = false
	return b.notify(ctx, e, contentful.Unpublish)
}

// notify sends the webhook of action for e; b.mu is held, so webhooks go
// out in the order of the changes.
func (b *Bench) notify(ctx context.Context, e *entry, action contentful.Action) (Result, error) {
	t := contentful.Topic{Kind: "Entry", Action: action}
	body := contentful.WebhookBody(t, contentful.Change{
		Kind: "Entry", ID: sysString(e.doc, "id"), ContentType: contentType(e.doc), Revision: revision(e.doc),
		Space: b.opts.Space, Environment: b.opts.Environment, CreatedAt: sysString(e.doc, "createdAt"),
	}, b.opts.Now())
	res := Result{Entry: b.show(e), Topic: t.String()}
	answer, err := b.send.Send(ctx, t, body)
	res.Webhook = answer
	return res, err
}

// show is e as Entries lists it.
func (b *Bench) show(e *entry) Entry {
	out := Entry{ID: sysString(e.doc, "id"), ContentType: contentType(e.doc), Revision: revision(e.doc),
		Published: e.published, UpdatedAt: sysString(e.doc, "updatedAt"), Fields: map[string]string{}}
	fields, _ := e.doc["fields"].(map[string]any)
	for name, v := range fields {
		if s, ok := v.(string); ok {
			out.Fields[name] = s
		}
	}
	switch {
	case out.ContentType == b.opts.BlogType:
		out.Path = "/blog/" + escapeSlug(out.Fields[b.opts.SlugField])
	case slices.Contains(b.opts.CVTypes, out.ContentType):
		out.Path = "/cv"
	default:
		out.Path = "/blog"
	}
	return out
}

func sysString(doc map[string]any, key string) string {
	sys, _ := doc["sys"].(map[string]any)
	s, _ := sys[key].(string)
	return s
}

func contentType(doc map[string]any) string {
	sys, _ := doc["sys"].(map[string]any)
	ct, _ := sys["contentType"].(map[string]any)
	ctSys, _ := ct["sys"].(map[string]any)
	id, _ := ctSys["id"].(string)
	return id
}

// revision is the entity's sys.revision: a float64 as read from the space
// document, an int once the bench has set it.
func revision(doc map[string]any) int {
	sys, _ := doc["sys"].(map[string]any)
	switch r := sys["revision"].(type) {
	case float64:
		return int(r)
	case int:
		return r
	}
	return 0
}

// escapeSlug escapes each segment of a slug as encodeURIComponent would,
// keeping its "/": the form a frontend builds and folio serves.
func escapeSlug(slug string) string {
	segs := strings.Split(slug, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func clip(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}
