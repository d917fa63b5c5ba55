package handlers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/folio-cms/folio/internal/logbuf"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/auth/auth0test"
	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/refresh"
)

// Every webhook test logs here; TestMain searches it for secrets at the end.
var (
	testLogs    logbuf.Buffer
	testLogger  = slog.New(slog.NewJSONHandler(&testLogs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	secretsMu   sync.Mutex
	secretsSeen []string
)

// remember registers a secret that must never reach the logs.
func remember(secrets ...string) {
	secretsMu.Lock()
	secretsSeen = append(secretsSeen, secrets...)
	secretsMu.Unlock()
}

func TestMain(m *testing.M) {
	code := m.Run()
	logs := testLogs.String()
	for _, s := range secretsSeen {
		if s != "" && strings.Contains(logs, s) {
			fmt.Fprintf(os.Stderr, "FAIL: a secret (%.6s…) appears in the log output of the webhook tests\n", s)
			code = 1
		}
	}
	if code == 0 && hooksBuilt.Load() && !strings.Contains(logs, "webhook accepted") {
		fmt.Fprintln(os.Stderr, "FAIL: the webhook tests logged nothing: the secret search proved nothing")
		code = 1
	}
	os.Exit(code)
}

var signingSecret = strings.Repeat("s3cr3t-x", 8)

type hook struct {
	t      *testing.T
	store  *cache.Store
	queue  *refresh.MemoryQueue
	router http.Handler
	log    *refresh.EventLog
}

var hookCols = refresh.Collections{CVTypes: []string{"profile", "experience"}, BlogType: "blogPost", SlugField: "slug"}

// hooksBuilt tells TestMain that webhook cases ran, so their logs must hold
// something for the secret search to mean anything.
var hooksBuilt atomic.Bool

func newHook(t *testing.T, guard *auth.Guard, queueSize int) *hook {
	t.Helper()
	hooksBuilt.Store(true)
	remember(signingSecret)
	store := &cache.Store{}
	snapshotFor(t, store, "one", 3)
	h := &hook{t: t, store: store, queue: refresh.NewMemoryQueue(queueSize), log: refresh.NewEventLog(refresh.Retention{Events: 100})}
	h.router = NewRouter(Deps{
		Store: store, Logger: testLogger, Status: NewStatus(Info{}, store),
		Webhook: NewWebhook(refresh.NewIntake(store, h.queue, refresh.NewMemoryDedup(10*time.Minute, 1000), h.log,
			refresh.IntakeOptions{Space: "space1", Environment: "master", Collections: hookCols})),
		Auth: guard, Limits: NewClientLimits(10_000, 10_000),
	})
	return h
}

func signedGuard() *auth.Guard {
	return auth.NewGuard(auth.NewSignatureVerifier(signingSecret, 30*time.Second), nil)
}

func publishBody(id string, rev int) []byte {
	return contentful.WebhookBody(contentful.Topic{Kind: "Entry", Action: contentful.Publish},
		contentful.Change{Kind: "Entry", ID: id, ContentType: "blogPost", Revision: rev, Space: "space1", Environment: "master"}, time.Now())
}

// send posts a webhook; sign says whether to sign it with signingSecret.
func (h *hook) send(topic string, body []byte, sign bool, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("POST", "/webhooks/contentful", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
	if topic != "" {
		req.Header.Set("X-Contentful-Topic", topic)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if sign {
		auth.Sign(req, body, signingSecret, time.Now(), "Content-Type", "X-Contentful-Topic")
	}
	w := httptest.NewRecorder()
	h.router.ServeHTTP(w, req)
	return w
}

func status(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	var a webhookAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
		t.Fatalf("not JSON: %s", w.Body.String())
	}
	return a.Status
}

func TestWebhookAccepts(t *testing.T) {
	h := newHook(t, signedGuard(), 10)
	w := h.send("ContentManagement.Entry.publish", publishBody("p1", 2), true)
	if w.Code != http.StatusAccepted || status(t, w) != "accepted" {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	ev := <-h.queue.Events()
	if ev.Entity != "Entry:p1" || ev.Revision != 2 || len(ev.Collections) != 1 || ev.Collections[0] != cache.Blog {
		t.Fatalf("queued %+v", ev)
	}
	var a webhookAnswer
	json.Unmarshal(w.Body.Bytes(), &a)
	if a.EventID != ev.ID {
		t.Fatalf("answered event id %q, queued %q", a.EventID, ev.ID)
	}
}

// TestHostileInputs: each bad call gets its status and changes nothing.
func TestHostileInputs(t *testing.T) {
	h := newHook(t, signedGuard(), 10)
	snap := h.store.Load()
	good := publishBody("p1", 1)
	huge := bytes.Repeat([]byte("x"), 10<<20)
	cases := []struct {
		name   string
		topic  string
		body   []byte
		header []string
		code   int
		want   string // error code or answer status
	}{
		{"empty body", "ContentManagement.Entry.publish", nil, nil, 400, "payload_invalid"},
		{"10 MB body", "ContentManagement.Entry.publish", huge, nil, 413, "payload_too_large"},
		{"invalid JSON", "ContentManagement.Entry.publish", []byte(`{"sys":`), nil, 400, "payload_invalid"},
		{"wrong shape", "ContentManagement.Entry.publish", []byte(`{"sys":"Entry","items":[1,2]}`), nil, 400, "payload_invalid"},
		{"array", "ContentManagement.Entry.publish", []byte(`[{"sys":{"id":"x"}}]`), nil, 400, "payload_invalid"},
		{"kind mismatch", "ContentManagement.Asset.publish", good, nil, 400, "payload_invalid"},
		{"unknown topic", "ContentManagement.Entry.frobnicate", good, nil, 200, "ignored"},
		{"not triggering", "ContentManagement.Entry.auto_save", good, nil, 200, "ignored"},
		{"malformed topic", "Entry publish; DROP TABLE", good, nil, 400, "topic_invalid"},
		{"missing topic", "", good, nil, 400, "topic_missing"},
		{"wrong content type", "ContentManagement.Entry.publish", good, []string{"Content-Type", "text/plain"}, 415, "unsupported_content_type"},
		{"other environment", "ContentManagement.Entry.publish", contentful.WebhookBody(contentful.Topic{Kind: "Entry", Action: contentful.Publish},
			contentful.Change{Kind: "Entry", ID: "p1", ContentType: "blogPost", Revision: 1, Space: "space1", Environment: "staging"}, time.Now()), nil, 200, "ignored"},
		{"unserved entity", "ContentManagement.Entry.publish", contentful.WebhookBody(contentful.Topic{Kind: "Entry", Action: contentful.Publish},
			contentful.Change{Kind: "Entry", ID: "nobody-links-me", ContentType: "tag", Revision: 1, Space: "space1", Environment: "master"}, time.Now()), nil, 200, "ignored"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := h.send(c.topic, c.body, true, c.header...)
			if w.Code != c.code {
				t.Fatalf("status %d, want %d: %.200s", w.Code, c.code, w.Body.String())
			}
			got := ""
			if c.code >= 400 {
				got = errorCode(t, w)
			} else {
				got = status(t, w)
			}
			if got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			if h.queue.Len() != 0 || h.store.Load() != snap {
				t.Fatal("a bad call queued work or changed the snapshot")
			}
		})
	}

	// A duplicate idempotency key: accepted once, then "duplicate".
	key := []string{"X-Contentful-Idempotency-Key", strings.Repeat("ab", 32)}
	if w := h.send("ContentManagement.Entry.publish", good, true, key...); w.Code != 202 {
		t.Fatalf("first delivery: %d %s", w.Code, w.Body.String())
	}
	if w := h.send("ContentManagement.Entry.publish", publishBody("p2", 9), true, key...); w.Code != 200 || status(t, w) != "duplicate" {
		t.Fatalf("same key again: %d %s", w.Code, w.Body.String())
	}
	// Without a key, the same entity revision is the same change.
	if w := h.send("ContentManagement.Entry.publish", good, true); w.Code != 202 {
		t.Fatalf("first without key: %d", w.Code)
	}
	if w := h.send("ContentManagement.Entry.publish", good, true); w.Code != 200 || status(t, w) != "duplicate" {
		t.Fatalf("same revision again: %d %s", w.Code, w.Body.String())
	}
	if h.queue.Len() != 2 {
		t.Fatalf("%d events queued, want 2", h.queue.Len())
	}
	outcomes := map[refresh.Outcome]int{}
	for _, r := range h.log.Recent(100) {
		outcomes[r.Outcome]++
	}
	if outcomes[refresh.Duplicate] != 2 || outcomes[refresh.Ignored] < 3 {
		t.Fatalf("the event log lacks duplicates or ignored calls: %v", outcomes)
	}
}

func TestSignatureRequired(t *testing.T) {
	h := newHook(t, signedGuard(), 10)
	body := publishBody("p1", 1)
	cases := map[string]func(r *http.Request){
		"unsigned": func(r *http.Request) {},
		"tampered body": func(r *http.Request) {
			auth.Sign(r, body, signingSecret, time.Now(), "X-Contentful-Topic")
			r.Body = readCloser(bytes.Replace(body, []byte(`"p1"`), []byte(`"p9"`), 1))
		},
		"wrong secret": func(r *http.Request) { auth.Sign(r, body, strings.Repeat("w", 64), time.Now(), "X-Contentful-Topic") },
		"stale": func(r *http.Request) {
			auth.Sign(r, body, signingSecret, time.Now().Add(-time.Minute), "X-Contentful-Topic")
		},
	}
	for name, prepare := range cases {
		t.Run(name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/webhooks/contentful", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
			req.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish")
			prepare(req)
			w := httptest.NewRecorder()
			h.router.ServeHTTP(w, req)
			if w.Code != 401 || w.Header().Get("Www-Authenticate") == "" || !strings.HasPrefix(errorCode(t, w), "signature_") {
				t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body.String())
			}
			if h.queue.Len() != 0 {
				t.Fatal("queued")
			}
		})
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }

func readCloser(b []byte) nopCloser { return nopCloser{bytes.NewReader(b)} }

func TestFailsClosedWithoutAuth(t *testing.T) {
	h := newHook(t, auth.NewGuard(nil, nil), 10)
	w := h.send("ContentManagement.Entry.publish", publishBody("p1", 1), false)
	if w.Code != 503 || errorCode(t, w) != "webhook_auth_not_configured" || h.queue.Len() != 0 {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
}

func TestQueueFullAnswers503(t *testing.T) {
	h := newHook(t, signedGuard(), 1)
	if w := h.send("ContentManagement.Entry.publish", publishBody("p1", 1), true); w.Code != 202 {
		t.Fatalf("first: %d", w.Code)
	}
	w := h.send("ContentManagement.Entry.publish", publishBody("p2", 1), true)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" || errorCode(t, w) != "queue_full" {
		t.Fatalf("full queue: %d %s", w.Code, w.Body.String())
	}
	// Contentful's retry of the refused call must not be a "duplicate".
	<-h.queue.Events()
	if w := h.send("ContentManagement.Entry.publish", publishBody("p2", 1), true); w.Code != 202 {
		t.Fatalf("retry after 503: %d %s", w.Code, w.Body.String())
	}
}

func TestRateLimitPerClient(t *testing.T) {
	h := newHook(t, signedGuard(), 10_000)
	h.router = NewRouter(Deps{Store: h.store, Logger: testLogger, Status: NewStatus(Info{}, h.store),
		Webhook: NewWebhook(refresh.NewIntake(h.store, h.queue, refresh.NewMemoryDedup(time.Minute, 1000), nil, refresh.IntakeOptions{Collections: hookCols})),
		Auth:    signedGuard(), Limits: NewClientLimits(1, 3)})
	codes := map[int]int{}
	var last *httptest.ResponseRecorder
	for i := range 5 {
		last = h.send("ContentManagement.Entry.publish", publishBody(fmt.Sprintf("p%d", i), 1), true)
		codes[last.Code]++
	}
	if codes[202] != 3 || codes[429] != 2 || last.Header().Get("Retry-After") == "" || errorCode(t, last) != "rate_limited" {
		t.Fatalf("codes %v, last %v %s", codes, last.Header(), last.Body.String())
	}
}

// TestAuth0 runs the intake against a local Auth0-shaped issuer.
func TestAuth0(t *testing.T) {
	iss := auth0test.New("https://folio.example/api")
	defer iss.Close()
	iss.AddClient("contentful-hook", "hook-secret-value", "regenerate")
	iss.AddClient("other-app", "other-secret-value", "regenerate")
	iss.AddClient("no-scope", "no-scope-secret", "read")
	remember("hook-secret-value", "other-secret-value", "no-scope-secret")
	a0, err := auth.NewAuth0(auth.Auth0Config{IssuerURL: iss.URL, Audience: iss.Audience,
		AllowedClients: []string{"contentful-hook", "no-scope"}, RequiredScope: "regenerate", Logger: testLogger})
	if err != nil {
		t.Fatal(err)
	}
	h := newHook(t, auth.NewGuard(nil, a0), 10_000)
	basic := func(id, secret string) []string {
		return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}
	}
	bearer := func(tok string) []string {
		remember(tok)
		return []string{"Authorization", "Bearer " + tok}
	}

	// 1,000 webhooks with the same credentials: one token exchange.
	var wg sync.WaitGroup
	codes := make(chan int, 1000)
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes <- h.send("ContentManagement.Entry.publish", publishBody(fmt.Sprintf("p%d", i%3), i), false, basic("contentful-hook", "hook-secret-value")...).Code
		}()
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 202 && c != 200 {
			t.Fatalf("a Basic webhook answered %d", c)
		}
	}
	if n := iss.TokenRequests(); n != 1 {
		t.Fatalf("1,000 webhooks made %d token requests, want 1", n)
	}
	queued := h.queue.Len()

	now := time.Now()
	cases := []struct {
		name   string
		header []string
		code   int
		errors string
	}{
		{"no credentials", nil, 401, "credentials_missing"},
		{"wrong secret", basic("contentful-hook", "guessed"), 401, "invalid_client_credentials"},
		{"expired token", bearer(iss.Mint(map[string]any{"azp": "contentful-hook", "scope": "regenerate", "exp": now.Add(-time.Hour).Unix()})), 401, "token_expired"},
		{"wrong audience", bearer(iss.Mint(map[string]any{"azp": "contentful-hook", "scope": "regenerate", "aud": "https://other/api"})), 403, "audience_mismatch"},
		{"wrong issuer", bearer(iss.Mint(map[string]any{"azp": "contentful-hook", "scope": "regenerate", "iss": "https://evil.example/"})), 401, "token_invalid"},
		{"alg none", bearer(iss.Mint(map[string]any{"azp": "contentful-hook", "scope": "regenerate"}, auth0test.WithAlgNone())), 401, "token_invalid"},
		{"HS256 with the public key", bearer(iss.Mint(map[string]any{"azp": "contentful-hook", "scope": "regenerate"}, auth0test.WithHS256PublicKey())), 401, "token_invalid"},
		// An id outside the allow-list is not even exchanged: no quota spent,
		// and nothing proven, so 401.
		{"client not allowed (Basic)", basic("other-app", "other-secret-value"), 401, "invalid_client_credentials"},
		{"client not allowed (Bearer)", bearer(iss.Mint(map[string]any{"azp": "other-app", "scope": "regenerate"})), 403, "client_not_allowed"},
		{"scope missing", basic("no-scope", "no-scope-secret"), 403, "scope_missing"},
		{"garbage", []string{"Authorization", "Digest abc"}, 401, "credentials_malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := h.send("ContentManagement.Entry.publish", publishBody("p1", 77), false, c.header...)
			if w.Code != c.code || errorCode(t, w) != c.errors {
				t.Fatalf("%d %s, want %d %s", w.Code, w.Body.String(), c.code, c.errors)
			}
			if c.code == 401 && !strings.Contains(strings.Join(w.Header().Values("Www-Authenticate"), ","), "Bearer") {
				t.Fatalf("401 without a Bearer challenge: %v", w.Header())
			}
			if h.queue.Len() != queued {
				t.Fatal("a refused call queued work")
			}
		})
	}
	good := bearer(iss.Mint(map[string]any{"azp": "contentful-hook", "scope": "regenerate", "sub": "contentful-hook@clients"}))
	if w := h.send("ContentManagement.Entry.publish", publishBody("p2", 78), false, good...); w.Code != 202 {
		t.Fatalf("a valid Bearer token: %d %s", w.Code, w.Body.String())
	}

	// Both configured: both are required.
	both := newHook(t, auth.NewGuard(auth.NewSignatureVerifier(signingSecret, 30*time.Second), a0), 10)
	cred := basic("contentful-hook", "hook-secret-value")
	if w := both.send("ContentManagement.Entry.publish", publishBody("p1", 5), true, cred...); w.Code != 202 {
		t.Fatalf("signed and authenticated: %d %s", w.Code, w.Body.String())
	}
	if w := both.send("ContentManagement.Entry.publish", publishBody("p1", 6), true); w.Code != 401 || errorCode(t, w) != "credentials_missing" {
		t.Fatalf("signed without Auth0 credentials: %d %s", w.Code, w.Body.String())
	}
	if w := both.send("ContentManagement.Entry.publish", publishBody("p1", 7), false, cred...); w.Code != 401 || errorCode(t, w) != "signature_missing" {
		t.Fatalf("Auth0 credentials without a signature: %d %s", w.Code, w.Body.String())
	}

	// Auth0 down: 503 so that Contentful retries, never 2xx.
	iss.SetDown(true)
	down, err := auth.NewAuth0(auth.Auth0Config{IssuerURL: iss.URL, Audience: iss.Audience, Logger: testLogger})
	if err != nil {
		t.Fatalf("folio must start while Auth0 is down: %v", err)
	}
	h2 := newHook(t, auth.NewGuard(nil, down), 10)
	w := h2.send("ContentManagement.Entry.publish", publishBody("p1", 1), false, basic("contentful-hook", "hook-secret-value")...)
	if w.Code != 503 || h2.queue.Len() != 0 {
		t.Fatalf("Auth0 down: %d %s", w.Code, w.Body.String())
	}
}

// TestFollowerDefersUnservedChanges: a replica that does not lead passes a
// change it finds unserved to the leader, whose content may be newer.
func TestFollowerDefersUnservedChanges(t *testing.T) {
	h := newHook(t, signedGuard(), 10)
	h.router = NewRouter(Deps{Store: h.store, Logger: testLogger, Status: NewStatus(Info{}, h.store),
		Webhook: NewWebhook(refresh.NewIntake(h.store, h.queue, refresh.NewMemoryDedup(time.Minute, 100), nil,
			refresh.IntakeOptions{Collections: hookCols, Follows: func() bool { return true }})),
		Auth: signedGuard(), Limits: NewClientLimits(100, 100)})
	body := contentful.WebhookBody(contentful.Topic{Kind: "Asset", Action: contentful.Publish},
		contentful.Change{Kind: "Asset", ID: "new-hero", Revision: 1}, time.Now())
	if w := h.send("ContentManagement.Asset.publish", body, true); w.Code != 202 {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	if ev := <-h.queue.Events(); len(ev.Collections) != 0 || ev.Entity != "Asset:new-hero" {
		t.Fatalf("queued %+v", ev)
	}
}
