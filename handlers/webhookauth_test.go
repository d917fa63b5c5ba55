package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/auth/auth0test"
	"github.com/folio-cms/folio/refresh"
)

// TestSignedWebhookBehindPrefixStrippingProxy: Contentful calls
// https://example.com/folio/webhooks/contentful; a reverse proxy strips
// /folio and folio sees /webhooks/contentful. With the public URL set the
// signature verifies; without it the 401 and the log say what was checked.
func TestSignedWebhookBehindPrefixStrippingProxy(t *testing.T) {
	public, _ := url.Parse("https://example.com/folio")
	for _, tc := range []struct {
		name   string
		opts   []auth.SignatureOption
		status int
	}{
		{"with FOLIO_PUBLIC_URL", []auth.SignatureOption{auth.PublicURL(public)}, http.StatusAccepted},
		{"without it", nil, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHook(t, auth.NewGuard(auth.NewSignatureVerifier(signingSecret, 30*time.Second, tc.opts...), nil), 10)
			folio := httptest.NewServer(h.router)
			defer folio.Close()
			target, _ := url.Parse(folio.URL)
			proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/folio")
				pr.Out.URL.RawPath = ""
			}})
			defer proxy.Close()

			body := publishBody("p-proxy-"+tc.name[:4], 2)
			req, _ := http.NewRequest(http.MethodPost, proxy.URL+"/folio/webhooks/contentful", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
			req.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish")
			auth.Sign(req, body, signingSecret, time.Now(), "Content-Type", "X-Contentful-Topic")
			res, err := proxy.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var answer errorBody
			json.NewDecoder(res.Body).Decode(&answer)
			if res.StatusCode != tc.status {
				t.Fatalf("%s: %+v", res.Status, answer)
			}
			if tc.status != http.StatusUnauthorized {
				return
			}
			msg := answer.Error.Message
			for _, want := range []string{"POST /webhooks/contentful",
				"content-type, x-contentful-signed-headers, x-contentful-timestamp, x-contentful-topic", "FOLIO_PUBLIC_URL"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the 401 does not say %q: %s", want, msg)
				}
			}
			if answer.Error.Code != "signature_mismatch" || res.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %v", answer.Error.Code, res.Header)
			}
			if !strings.Contains(testLogs.String(), `POST /webhooks/contentful, signed headers content-type`) {
				t.Errorf("the log does not say which path was checked")
			}
		})
	}
}

// authHook is a webhook router whose /status and /readyz report guard's
// state, as serve.go wires them.
func authHook(t *testing.T, guard *auth.Guard) *hook {
	t.Helper()
	h := newHook(t, guard, 10)
	st := NewStatus(Info{}, h.store, func(d *StatusDoc) { d.Auth = guard.Status() }).WithDegradation(guard.Degraded)
	h.router = NewRouter(Deps{
		Store: h.store, Logger: testLogger, Status: st,
		Webhook: NewWebhook(refresh.NewIntake(h.store, h.queue, refresh.NewMemoryDedup(10*time.Minute, 1000), h.log,
			refresh.IntakeOptions{Space: "space1", Environment: "master", Collections: hookCols})),
		Auth: guard, Limits: NewClientLimits(10_000, 10_000),
	})
	return h
}

func getJSON(t *testing.T, h http.Handler, path string, v any) int {
	t.Helper()
	w := do(h, "GET", path)
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, w.Body.String())
	}
	return w.Code
}

type readyBody struct {
	Status   string
	Degraded []string
}

type statusAuth struct {
	Degraded []string
	Auth     struct {
		Configured       bool
		Methods          []string
		SignedPathPrefix string
		Auth0            *struct {
			State, Problem string
			Discovery      *struct {
				OK    bool
				Error string
			}
		}
	}
}

// TestAuthStateOnStatusAndReadyz: an issuer folio cannot reach shows on
// /status (the auth section) and on /readyz (200, degraded: readers are
// still served), and each webhook's 503 names the cause.
func TestAuthStateOnStatusAndReadyz(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/"
	ln.Close()
	a0, err := auth.NewAuth0(auth.Auth0Config{IssuerURL: closed, Audience: "https://folio.example/api", Logger: testLogger})
	if err != nil {
		t.Fatal(err)
	}
	guard := auth.NewGuard(auth.NewSignatureVerifier(signingSecret, time.Minute), a0)
	h := authHook(t, guard)

	var st statusAuth
	getJSON(t, h.router, "/status", &st)
	if !st.Auth.Configured || len(st.Auth.Methods) != 2 || st.Auth.SignedPathPrefix != "" ||
		st.Auth.Auth0 == nil || st.Auth.Auth0.State != auth.Auth0Pending || len(st.Degraded) != 0 {
		t.Fatalf("before the check: %+v", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan struct{})
	go func() { guard.Watch(ctx); close(watched) }() // fails, then waits to retry
	defer func() { cancel(); <-watched }()
	var ready readyBody
	for deadline := time.Now().Add(10 * time.Second); ready.Status != "degraded" && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		getJSON(t, h.router, "/readyz", &ready)
	}
	if code := getJSON(t, h.router, "/readyz", &ready); code != 200 || ready.Status != "degraded" ||
		len(ready.Degraded) != 1 || !strings.Contains(ready.Degraded[0], "discovery_unreachable") {
		t.Fatalf("/readyz %d %+v", code, ready)
	}
	getJSON(t, h.router, "/status", &st)
	if a := st.Auth.Auth0; a.State != auth.Auth0Failing || a.Discovery == nil || a.Discovery.OK ||
		a.Discovery.Error != "discovery_unreachable" || !strings.Contains(a.Problem, "discovery_unreachable") ||
		len(st.Degraded) != 1 {
		t.Fatalf("/status: %+v %+v", st, a)
	}
	body := publishBody("p1", 3)
	w := h.send("ContentManagement.Entry.publish", body, true, "Authorization",
		"Basic "+base64.StdEncoding.EncodeToString([]byte("c1:some-secret-value")))
	if w.Code != 503 || errorCode(t, w) != "auth0_unavailable" || w.Header().Get("Retry-After") == "" ||
		!strings.Contains(w.Body.String(), "discovery_unreachable") {
		t.Fatalf("webhook: %d %v %s", w.Code, w.Header(), w.Body.String())
	}

	// No method at all: degraded too. A working one: ready.
	none := authHook(t, auth.NewGuard(nil, nil))
	if code := getJSON(t, none.router, "/readyz", &ready); code != 200 || ready.Status != "degraded" ||
		!strings.Contains(strings.Join(ready.Degraded, ""), "webhook_auth_not_configured") {
		t.Fatalf("no method: /readyz %d %+v", code, ready)
	}
	getJSON(t, none.router, "/status", &st)
	if st.Auth.Configured || st.Auth.Methods == nil {
		t.Fatalf("no method: %+v", st.Auth)
	}
	public, _ := url.Parse("https://example.com/folio/")
	if p := auth.NewGuard(auth.NewSignatureVerifier(signingSecret, time.Minute, auth.PublicURL(public)), nil).Status().SignedPathPrefix; p != "/folio" {
		t.Fatalf("signed path prefix %q", p)
	}
	good := authHook(t, signedGuard())
	ready = readyBody{}
	if code := getJSON(t, good.router, "/readyz", &ready); code != 200 || ready.Status != "ready" || ready.Degraded != nil {
		t.Fatalf("signature only: /readyz %d %+v", code, ready)
	}
}

// TestAuth0FloodOverHTTP: while made-up Basic credentials from many ids
// flood the webhook, the real client's webhooks are accepted (its first
// exchange included) and Auth0 sees one token request.
func TestAuth0FloodOverHTTP(t *testing.T) {
	iss := auth0test.New("https://folio.example/api")
	defer iss.Close()
	iss.AddClient("real-hook", "real-hook-secret-value")
	remember("real-hook-secret-value")
	a0, err := auth.NewAuth0(auth.Auth0Config{IssuerURL: iss.URL, Audience: iss.Audience,
		AllowedClients: []string{"real-hook"}, Logger: testLogger})
	if err != nil {
		t.Fatal(err)
	}
	h := newHook(t, auth.NewGuard(nil, a0), 10_000)
	basic := func(id, secret string) []string {
		return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))}
	}
	stop := make(chan struct{})
	var flooders sync.WaitGroup
	for g := range 4 {
		flooders.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				w := h.send("ContentManagement.Entry.publish", publishBody("p1", 1), false,
					basic(fmt.Sprintf("bogus-%d-%d", g, i), fmt.Sprintf("made-up-%d-%d", g, i))...)
				if w.Code != http.StatusUnauthorized {
					t.Errorf("a made-up credential answered %d", w.Code)
					return
				}
			}
		})
	}
	for i := range 20 {
		w := h.send("ContentManagement.Entry.publish", publishBody(fmt.Sprintf("p%d", i%3), 100+i), false, basic("real-hook", "real-hook-secret-value")...)
		if w.Code != http.StatusAccepted && w.Code != http.StatusOK {
			t.Fatalf("the real client's webhook %d during the flood: %d %s", i, w.Code, w.Body.String())
		}
	}
	close(stop)
	flooders.Wait()
	if n := iss.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
}
