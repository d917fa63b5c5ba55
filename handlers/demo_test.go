package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/demo"
	"github.com/folio-cms/folio/web"
)

// sendFunc is a demo.Sender.
type sendFunc func(t contentful.Topic, body []byte) (demo.Answer, error)

func (f sendFunc) Send(_ context.Context, t contentful.Topic, body []byte) (demo.Answer, error) {
	return f(t, body)
}

func demoRouter(t *testing.T, send sendFunc) http.Handler {
	t.Helper()
	api := localapi.New("folio-demo", "master", "tok")
	if err := api.Load(web.DemoSpace); err != nil {
		t.Fatal(err)
	}
	b, err := demo.New(web.DemoSpace, api, send, demo.Options{Space: "folio-demo", Environment: "master",
		BlogType: "blogPost", SlugField: "slug", CVTypes: []string{"profile"}})
	if err != nil {
		t.Fatal(err)
	}
	store := &cache.Store{}
	return NewRouter(Deps{Store: store, Logger: testLogger, Status: NewStatus(Info{}, store), Demo: NewDemo(b)})
}

func demoCall(h http.Handler, method, path, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestDemoRoutesOnlyInDemoMode: outside demo mode the bench's paths are
// 404s like any path no route serves.
func TestDemoRoutesOnlyInDemoMode(t *testing.T) {
	store := &cache.Store{}
	h := NewRouter(Deps{Store: store, Logger: testLogger, Status: NewStatus(Info{}, store)})
	for _, r := range [][2]string{{"GET", "/demo/entries"}, {"POST", "/demo/entries/post-retries/publish"},
		{"POST", "/demo/entries/post-retries/unpublish"}} {
		w := demoCall(h, r[0], r[1], "application/json", `{}`)
		if w.Code != 404 || errorCode(t, w) != "not_found" {
			t.Errorf("%s %s outside demo mode: %d %s", r[0], r[1], w.Code, w.Body.String())
		}
	}
}

func TestDemoRoutes(t *testing.T) {
	var sent []contentful.Topic
	var refuse error
	h := demoRouter(t, func(tp contentful.Topic, body []byte) (demo.Answer, error) {
		sent = append(sent, tp)
		if refuse != nil {
			return demo.Answer{Status: 401}, refuse
		}
		return demo.Answer{Status: 202, Outcome: "accepted", EventID: "evt_x"}, nil
	})

	w := demoCall(h, "GET", "/demo/entries", "", "")
	var list struct{ Entries []demo.Entry }
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &list) != nil || len(list.Entries) < 5 {
		t.Fatalf("entries: %d %s", w.Code, w.Body.String())
	}

	for _, c := range []struct {
		name, path, ctype, body string
		status                  int
		code                    string
	}{
		{"no JSON type", "/demo/entries/post-retries/publish", "text/plain", `{}`, 415, "unsupported_content_type"},
		{"not JSON", "/demo/entries/post-retries/publish", "application/json", `{`, 400, "body_invalid"},
		{"unknown key", "/demo/entries/post-retries/publish", "application/json", `{"title":"x"}`, 400, "body_invalid"},
		{"a number", "/demo/entries/post-retries/publish", "application/json", `{"fields":{"title":1}}`, 400, "body_invalid"},
		{"two objects", "/demo/entries/post-retries/publish", "application/json", `{}{}`, 400, "body_invalid"},
		{"too big", "/demo/entries/post-retries/publish", "application/json", `{"fields":{"title":"` + strings.Repeat("x", 70<<10) + `"}}`, 413, "payload_too_large"},
		{"no such entry", "/demo/entries/nope/publish", "application/json", `{}`, 404, "entry_not_found"},
		{"no such field", "/demo/entries/post-retries/publish", "application/json", `{"fields":{"nope":"x"}}`, 400, "field_invalid"},
		{"unpublish, a body", "/demo/entries/post-retries/unpublish", "application/json", `{"x":1}`, 400, "body_invalid"},
	} {
		w := demoCall(h, "POST", c.path, c.ctype, c.body)
		if w.Code != c.status || errorCode(t, w) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, w.Code, w.Body.String(), c.status, c.code)
		}
	}
	if len(sent) != 0 {
		t.Fatalf("bad input sent webhooks: %v", sent)
	}

	w = demoCall(h, "POST", "/demo/entries/post-retries/publish", "application/json", `{"fields":{"title":"New title"}}`)
	var res demo.Result
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &res) != nil || res.Webhook.EventID != "evt_x" ||
		res.Entry.Fields["title"] != "New title" || res.Entry.Revision != 3 {
		t.Fatalf("publish: %d %s", w.Code, w.Body.String())
	}
	if w := demoCall(h, "POST", "/demo/entries/post-retries/unpublish", "application/json", ""); w.Code != 200 {
		t.Fatalf("unpublish: %d %s", w.Code, w.Body.String())
	}
	if w := demoCall(h, "POST", "/demo/entries/post-retries/unpublish", "application/json", "{}"); w.Code != 409 || errorCode(t, w) != "entry_not_published" {
		t.Errorf("unpublish twice: %d %s", w.Code, w.Body.String())
	}
	refuse = &demo.WebhookError{Status: 401, Code: "signature_invalid", Reason: "no"}
	if w := demoCall(h, "POST", "/demo/entries/post-retries/publish", "application/json", "{}"); w.Code != 502 || errorCode(t, w) != "webhook_refused" ||
		!strings.Contains(w.Body.String(), "401 signature_invalid") {
		t.Errorf("refused webhook: %d %s", w.Code, w.Body.String())
	}
	if w := demoCall(h, "GET", "/demo/entries/post-retries/publish", "", ""); w.Code != 405 {
		t.Errorf("GET on publish: %d", w.Code)
	}
}

// TestDemoBodyProblems: a body the bench cannot read is answered in its
// terms, never with encoding/json's Go types.
func TestDemoBodyProblems(t *testing.T) {
	h := demoRouter(t, func(contentful.Topic, []byte) (demo.Answer, error) {
		t.Error("bad input sent a webhook")
		return demo.Answer{}, nil
	})
	for body, says := range map[string]string{
		`[]`:                        "it is an array",
		`"x"`:                       "it is a string",
		`{"fields":[]}`:             `"fields" is an array`,
		`{"fields":{"title":1}}`:    `"fields" has a number where text belongs`,
		`{"fields":{"title":{}}}`:   `"fields" has an object where text belongs`,
		`{"fields":{"title":true}}`: `"fields" has a bool where text belongs`,
		`{"title":"x"}`:             `the unknown key "title"`,
		`{"fields":{}} {}`:          "data follows it",
		`{"fields":{`:               "it ends inside the JSON",
		`{"fields":x}`:              "it is not JSON (at byte 11)",
	} {
		w := demoCall(h, "POST", "/demo/entries/post-retries/publish", "application/json", body)
		var answer struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(w.Body.Bytes(), &answer)
		msg := answer.Error.Message
		if w.Code != 400 || answer.Error.Code != "body_invalid" || !strings.Contains(msg, says) ||
			strings.Contains(msg, "Go ") || strings.Contains(msg, "struct") || strings.Contains(msg, "map[") {
			t.Errorf("%s: %d %s, want a 400 that says %q", body, w.Code, w.Body.String(), says)
		}
	}
}
