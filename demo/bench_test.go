package demo

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/web"
)

const secret = "demo-test-secret-demo-test-secret-demo-test-secret-demo-test-se"

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// receiver is a webhook route that verifies signatures as folio does and
// answers what answer says.
type receiver struct {
	mu     sync.Mutex
	calls  []call
	answer func(w http.ResponseWriter)
}

type call struct {
	topic  string
	body   map[string]any
	verify error
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	v := auth.NewSignatureVerifier(secret, time.Minute)
	c := call{topic: r.Header.Get("X-Contentful-Topic"), verify: v.Verify(r, body)}
	json.Unmarshal(body, &c.body)
	rc.mu.Lock()
	rc.calls = append(rc.calls, c)
	answer := rc.answer
	rc.mu.Unlock()
	if answer == nil {
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, `{"status":"accepted","eventId":"evt_1","collections":["blog"]}`)
		return
	}
	answer(w)
}

func (rc *receiver) last(t *testing.T) call {
	t.Helper()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.calls) == 0 {
		t.Fatal("no webhook was sent")
	}
	return rc.calls[len(rc.calls)-1]
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.calls)
}

// fixture is a bench on the demo space served by a local Delivery API,
// sending to a receiver.
func fixture(t *testing.T) (*Bench, *receiver, func(id string) (int, map[string]any)) {
	t.Helper()
	api := localapi.New("folio-demo", "master", "tok")
	if err := api.Load(web.DemoSpace); err != nil {
		t.Fatal(err)
	}
	cda := httptest.NewServer(api)
	t.Cleanup(cda.Close)
	rc := &receiver{}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)
	b, err := New(web.DemoSpace, api, &WebhookSender{URL: hook.URL + "/webhooks/contentful", Target: "/webhooks/contentful", Secret: secret},
		Options{Space: "folio-demo", Environment: "master", BlogType: "blogPost", SlugField: "slug",
			CVTypes: []string{"profile", "experience"}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	served := func(id string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", cda.URL+"/spaces/folio-demo/environments/master/entries/"+id, nil)
		req.Header.Set("Authorization", "Bearer tok")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var doc map[string]any
		json.NewDecoder(res.Body).Decode(&doc)
		return res.StatusCode, doc
	}
	return b, rc, served
}

func sysOf(doc map[string]any) map[string]any { s, _ := doc["sys"].(map[string]any); return s }

func TestPublishChangesTheEntryAndSendsASignedWebhook(t *testing.T) {
	b, rc, served := fixture(t)
	_, before := served("post-retries")
	res, err := b.Publish(context.Background(), "post-retries", map[string]string{"title": "Retries, revisited"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Entry.Revision != 3 || res.Entry.Fields["title"] != "Retries, revisited" || !res.Entry.Published ||
		res.Entry.Path != "/blog/a-year-of-retries" || res.Entry.UpdatedAt != "2026-11-30T12:00:00.000Z" {
		t.Errorf("entry after publish: %+v", res.Entry)
	}
	if res.Topic != "ContentManagement.Entry.publish" || res.Webhook.Status != 202 || res.Webhook.EventID != "evt_1" ||
		res.Webhook.Outcome != "accepted" {
		t.Errorf("result: %+v", res)
	}
	code, doc := served("post-retries")
	fields, _ := doc["fields"].(map[string]any)
	if code != 200 || sysOf(doc)["revision"] != 3.0 || fields["title"] != "Retries, revisited" ||
		sysOf(doc)["updatedAt"] != "2026-11-30T12:00:00.000Z" || fields["body"] == nil {
		t.Errorf("the Delivery API serves %d %v", code, doc)
	}
	if sysOf(doc)["createdAt"] != sysOf(before)["createdAt"] {
		t.Error("publish changed the entry's createdAt (its incarnation)")
	}
	c := rc.last(t)
	if c.verify != nil {
		t.Errorf("the webhook's signature does not verify: %v", c.verify)
	}
	sys := sysOf(c.body)
	if c.topic != "ContentManagement.Entry.publish" || sys["revision"] != 3.0 || sys["id"] != "post-retries" ||
		sys["createdAt"] != sysOf(before)["createdAt"] {
		t.Errorf("webhook %s %v", c.topic, c.body)
	}
	// The payload is one folio reads as Contentful's.
	raw, _ := json.Marshal(c.body)
	ch, err := contentful.ParseChange(contentful.Topic{Kind: "Entry", Action: contentful.Publish}, raw)
	if err != nil || ch.Space != "folio-demo" || ch.ContentType != "blogPost" {
		t.Errorf("ParseChange: %+v %v", ch, err)
	}
}

func TestUnpublishThenRepublish(t *testing.T) {
	b, rc, served := fixture(t)
	ctx := context.Background()
	res, err := b.Unpublish(ctx, "post-retries")
	if err != nil || res.Entry.Published || res.Topic != "ContentManagement.Entry.unpublish" {
		t.Fatalf("unpublish: %+v %v", res, err)
	}
	if code, _ := served("post-retries"); code != 404 {
		t.Errorf("the Delivery API still serves the entry: %d", code)
	}
	c := rc.last(t)
	if sys := sysOf(c.body); c.verify != nil || sys["type"] != "DeletedEntry" || sys["revision"] != 2.0 {
		t.Errorf("unpublish webhook: %v %v", c.verify, c.body)
	}
	if _, err := b.Unpublish(ctx, "post-retries"); !errors.Is(err, ErrNotPublished) {
		t.Errorf("a second unpublish: %v", err)
	}
	if res, err := b.Publish(ctx, "post-retries", nil); err != nil || res.Entry.Revision != 3 || !res.Entry.Published {
		t.Fatalf("republish: %+v %v", res, err)
	}
	if code, doc := served("post-retries"); code != 200 || sysOf(doc)["revision"] != 3.0 {
		t.Errorf("republished: %d %v", code, doc)
	}
	for _, e := range b.Entries() {
		if e.ID == "post-retries" && (!e.Published || e.Revision != 3) {
			t.Errorf("Entries: %+v", e)
		}
	}
}

func TestBadEditsChangeNothing(t *testing.T) {
	b, rc, served := fixture(t)
	ctx := context.Background()
	for name, fields := range map[string]map[string]string{
		"unknown field":  {"nope": "x"},
		"not a text":     {"tags": "x"},
		"too long":       {"title": strings.Repeat("x", MaxFieldBytes+1)},
		"not UTF-8":      {"title": "\xff"},
		"one bad of two": {"title": "fine", "heroImage": "x"},
	} {
		if _, err := b.Publish(ctx, "post-retries", fields); !errors.Is(err, ErrInput) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := b.Publish(ctx, "nope", nil); !errors.Is(err, ErrNoEntry) {
		t.Errorf("unknown entry: %v", err)
	}
	if _, err := b.Unpublish(ctx, "nope"); !errors.Is(err, ErrNoEntry) {
		t.Errorf("unknown entry: %v", err)
	}
	if _, doc := served("post-retries"); sysOf(doc)["revision"] != 2.0 || rc.count() != 0 {
		t.Errorf("a refused edit changed something: %v, %d webhooks", doc, rc.count())
	}
}

func TestWebhookRefusedOrUnreachable(t *testing.T) {
	b, rc, served := fixture(t)
	rc.answer = func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"signature_invalid","message":"no"}}`)
	}
	_, err := b.Publish(context.Background(), "profile", map[string]string{"headline": "New"})
	var we *WebhookError
	if !errors.As(err, &we) || we.Status != 401 || we.Code != "signature_invalid" {
		t.Fatalf("refused: %v", err)
	}
	// As in Contentful: the entry is published all the same.
	if _, doc := served("profile"); sysOf(doc)["revision"] != 8.0 {
		t.Errorf("profile: %v", doc)
	}
	if p := b.Entries()[0]; p.ID != "profile" || p.Path != "/cv" {
		t.Errorf("profile listed as %+v", p)
	}

	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	b.send = &WebhookSender{URL: gone.URL + "/webhooks/contentful", Target: "/webhooks/contentful", Secret: secret}
	if _, err := b.Unpublish(context.Background(), "profile"); !errors.As(err, &we) || we.Status != 0 || we.Code != "unreachable" {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestEscapeSlug(t *testing.T) {
	for in, want := range map[string]string{"a": "a", "2024/hello world": "2024/hello%20world", "what?": "what%3F", "100%": "100%25"} {
		if got := escapeSlug(in); got != want {
			t.Errorf("escapeSlug(%q) = %q, want %q", in, got, want)
		}
	}
}
