package handlers

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/auth/auth0test"
	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/refresh"
)

func TestAdminRoutes(t *testing.T) {
	iss := auth0test.New("https://folio.example/api")
	defer iss.Close()
	a0, err := auth.NewAuth0(auth.Auth0Config{IssuerURL: iss.URL, Audience: iss.Audience, Logger: testLogger})
	if err != nil {
		t.Fatal(err)
	}
	store := &cache.Store{}
	snapshotFor(t, store, "one", 1)
	queue := refresh.NewMemoryQueue(10)
	engine := refresh.NewEngine(refresh.NewLoader(nil, store, hookCols, nil), refresh.EngineOptions{}, nil)
	router := func(g *auth.Guard) http.Handler {
		return NewRouter(Deps{Store: store, Logger: testLogger, Status: NewStatus(Info{}, store),
			Auth: g, Admin: NewAdmin(engine, engine.Log(), queue)})
	}
	tok := iss.Mint(map[string]any{"scope": "admin"})
	remember(tok)
	call := func(h http.Handler, method, path string, bearer bool) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		if bearer {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}

	h := router(auth.NewGuard(nil, a0))
	if w := call(h, "GET", "/admin/dead-letters", false); w.Code != 401 || errorCode(t, w) != "credentials_missing" {
		t.Fatalf("without credentials: %d %s", w.Code, w.Body.String())
	}
	w := call(h, "GET", "/admin/dead-letters", true)
	var dl struct{ DeadLetters []refresh.Record }
	if w.Code != 200 || json.Unmarshal(w.Body.Bytes(), &dl) != nil || dl.DeadLetters == nil {
		t.Fatalf("dead letters: %d %s", w.Code, w.Body.String())
	}
	if w := call(h, "POST", "/admin/refresh", true); w.Code != 202 || queue.Len() != 1 {
		t.Fatalf("refresh: %d %s, queued %d", w.Code, w.Body.String(), queue.Len())
	}
	if ev := <-queue.Events(); !ev.Full || !ev.Force {
		t.Fatalf("queued %+v", ev)
	}
	if w := call(h, "POST", "/admin/dead-letters/evt_nope/replay", true); w.Code != 404 || errorCode(t, w) != "dead_letter_not_found" {
		t.Fatalf("replay of nothing: %d %s", w.Code, w.Body.String())
	}

	// A signature-only deployment has its way out: an admin call signed
	// with the webhook's signing secret (what folio refresh sends); an
	// unsigned one is refused and queues nothing.
	signedOnly := router(signedGuard())
	if w := call(signedOnly, "POST", "/admin/refresh", true); w.Code != 401 || queue.Len() != 0 {
		t.Fatalf("unsigned admin call: %d %s", w.Code, w.Body.String())
	}
	req := httptest.NewRequest("POST", "/admin/refresh", nil)
	auth.Sign(req, nil, signingSecret, time.Now())
	w = httptest.NewRecorder()
	signedOnly.ServeHTTP(w, req)
	if w.Code != 202 || queue.Len() != 1 {
		t.Fatalf("signed admin refresh: %d %s", w.Code, w.Body.String())
	}
	if ev := <-queue.Events(); !ev.Force {
		t.Fatalf("queued %+v", ev)
	}
}
