package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/auth/auth0test"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/internal/promcheck"
	"github.com/folio-cms/folio/internal/redistest"
)

// scrape is one /metrics answer: its samples by series (name{labels} as
// exposed, labels in name order) and its families' types.
type scrape struct {
	raw     []byte
	samples map[string]float64
	types   map[string]string
}

func (f *folio) scrape(t *testing.T) scrape {
	t.Helper()
	res, err := http.Get(f.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	s := scrape{raw: raw, samples: map[string]float64{}, types: map[string]string{}}
	for line := range strings.Lines(string(raw)) {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, _ := strings.Cut(rest, " ")
			s.types[name] = typ
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("unreadable sample %q", line)
		}
		s.samples[line[:i]] = v
	}
	return s
}

// signedHook sends a signed publish of a blog post carrying Auth0 client
// credentials as Basic, and returns the status and the answer's code
// (accepted, or the error's).
func (f *folio) signedHook(t *testing.T, id string, rev int, clientID, clientSecret string) (int, string) {
	t.Helper()
	topic := contentful.Topic{Kind: "Entry", Action: contentful.Publish}
	body := contentful.WebhookBody(topic, contentful.Change{Kind: "Entry", ID: id, ContentType: "blogPost", Revision: rev,
		Space: "s", Environment: "master"}, time.Now())
	req, _ := http.NewRequest("POST", f.URL+"/webhooks/contentful", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
	req.Header.Set("X-Contentful-Topic", topic.String())
	req.SetBasicAuth(clientID, clientSecret)
	auth.Sign(req, body, secret, time.Now(), "X-Contentful-Topic")
	code, answer := send(req)
	var doc struct {
		Status string
		Error  struct{ Code string }
	}
	json.Unmarshal([]byte(answer), &doc)
	return code, doc.Status + doc.Error.Code
}

// TestMetricsAfterAScriptedRun: after content reads (200, 304, 404s),
// signed webhooks with Auth0 credentials (one exchange, then its cached
// token; a wrong secret refused), a Delivery API 503 retried, a publish
// the API refuses until it is a dead letter and a forced refresh, on a
// Redis-backed leader, /metrics has every family README lists with the
// values the run moved, and `promtool check metrics` accepts it.
func TestMetricsAfterAScriptedRun(t *testing.T) {
	rds := redistest.Start(t)
	apiSrv, api := space(t)
	iss := auth0test.New("https://folio.example/api")
	t.Cleanup(iss.Close)
	iss.AddClient("hook", "hook-secret")
	f := start(t, api, rds.URL, "AUTH0_ISSUER_URL="+iss.URL, "AUTH0_AUDIENCE="+iss.Audience)
	f.until("ready", 10*time.Second, func() bool { return f.status("/readyz") == 200 })
	leader(t, f)

	// Content: 200s, a 304, a missing post and a path no route has.
	for _, p := range []string{"/cv", "/blog", "/blog/p1"} {
		if code, _ := f.get(p); code != 200 {
			t.Fatalf("%s: %d", p, code)
		}
	}
	res, err := http.Get(f.URL + "/cv")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	req, _ := http.NewRequest("GET", f.URL+"/cv", nil)
	req.Header.Set("If-None-Match", res.Header.Get("Etag"))
	if code, _ := send(req); code != 304 {
		t.Fatalf("conditional /cv: %d", code)
	}
	if code, _ := f.get("/blog/no-such-post"); code != 404 {
		t.Fatalf("missing post: %d", code)
	}
	if code, _ := f.get("/wp-login.php"); code != 404 {
		t.Fatalf("unrouted path: %d", code)
	}

	// A publish whose first Delivery API request answers 503 (retried
	// inside the client), with Auth0 credentials: one exchange.
	if err := apiSrv.Put(post("p1", 2)); err != nil {
		t.Fatal(err)
	}
	apiSrv.Script(localapi.Fault{Status: http.StatusServiceUnavailable})
	if code, answer := f.signedHook(t, "p1", 2, "hook", "hook-secret"); code != 202 {
		t.Fatalf("webhook: %d %s", code, answer)
	}
	f.until("p1 at revision 2", 20*time.Second, func() bool { return f.serves("p1", 2) })
	// The same credentials again: the cached token.
	if err := apiSrv.Put(post("p2", 2)); err != nil {
		t.Fatal(err)
	}
	if code, answer := f.signedHook(t, "p2", 2, "hook", "hook-secret"); code != 202 {
		t.Fatalf("second webhook: %d %s", code, answer)
	}
	f.until("p2 at revision 2", 20*time.Second, func() bool { return f.serves("p2", 2) })
	// A wrong secret: Auth0 refuses the exchange.
	refusedCode, refused := f.signedHook(t, "p2", 3, "hook", "not-the-secret")
	if refusedCode != 401 || refused == "" {
		t.Fatalf("a wrong secret answered %d %q", refusedCode, refused)
	}

	// A publish every fetch of which the Delivery API refuses (a 400 is
	// not retried inside the client) is a dead letter after 4 fetches of
	// two requests (the incremental one, then the whole collection).
	if err := apiSrv.Put(post("p3", 2)); err != nil {
		t.Fatal(err)
	}
	apiSrv.Script(slices.Repeat([]localapi.Fault{{Status: http.StatusBadRequest}}, 8)...)
	if code, answer := f.signedHook(t, "p3", 2, "hook", "hook-secret"); code != 202 {
		t.Fatalf("third webhook: %d %s", code, answer)
	}
	f.until("a dead letter", 30*time.Second, func() bool { return f.scrape(t).samples["folio_dead_letters"] == 1 })

	// A forced refresh of both collections.
	req, _ = http.NewRequest("POST", f.URL+"/admin/refresh", http.NoBody)
	req.SetBasicAuth("hook", "hook-secret")
	auth.Sign(req, nil, secret, time.Now())
	if code, body := send(req); code != 202 {
		t.Fatalf("forced refresh: %d %s", code, body)
	}
	// Both collections' refreshes end on their own turns: wait for both
	// (waiting for the CV's alone, the blog's could still be fetching).
	f.until("the forced refresh", 20*time.Second, func() bool {
		s := f.scrape(t).samples
		return s[`folio_refresh_duration_seconds_count{collection="cv",outcome="done"}`] >= 2 &&
			s[`folio_refresh_duration_seconds_count{collection="blog",outcome="done"}`] >= 4
	})

	s := f.scrape(t)
	for name, typ := range map[string]string{
		"folio_http_requests_total":           "counter",
		"folio_http_request_duration_seconds": "histogram",
		"folio_webhooks_total":                "counter",
		"folio_events_total":                  "counter",
		"folio_refresh_duration_seconds":      "histogram",
		"folio_delivery_api_requests_total":   "counter",
		"folio_delivery_api_retries_total":    "counter",
		"folio_auth0_token_exchanges_total":   "counter",
		"folio_auth0_token_cache_total":       "counter",
		"folio_queue_depth":                   "gauge",
		"folio_dead_letters":                  "gauge",
		"folio_snapshot_age_seconds":          "gauge",
		"folio_snapshot_bytes":                "gauge",
		"folio_snapshot_entries":              "gauge",
		"folio_ready":                         "gauge",
		"folio_redis_up":                      "gauge",
		"folio_redis_leader":                  "gauge",
		"folio_webhook_auth_degraded":         "gauge",
	} {
		if s.types[name] != typ {
			t.Errorf("family %s is %q, want %s", name, s.types[name], typ)
		}
	}
	atLeast := func(series string, least float64) {
		t.Helper()
		if v, ok := s.samples[series]; !ok || v < least {
			t.Errorf("%s = %v (present %v), want at least %v", series, v, ok, least)
		}
	}
	exactly := func(series string, want float64) {
		t.Helper()
		if v, ok := s.samples[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	atLeast(`folio_http_requests_total{code="200",route="/cv"}`, 2)
	exactly(`folio_http_requests_total{code="304",route="/cv"}`, 1)
	atLeast(`folio_http_requests_total{code="200",route="/blog"}`, 1)
	atLeast(`folio_http_requests_total{code="200",route="/blog/*slug"}`, 3)
	exactly(`folio_http_requests_total{code="404",route="/blog/*slug"}`, 1)
	exactly(`folio_http_requests_total{code="404",route="unmatched"}`, 1)
	exactly(`folio_http_requests_total{code="202",route="/webhooks/contentful"}`, 3)
	exactly(`folio_http_requests_total{code="401",route="/webhooks/contentful"}`, 1)
	exactly(`folio_http_requests_total{code="202",route="/admin/refresh"}`, 1)
	atLeast(`folio_http_requests_total{code="200",route="/metrics"}`, 1)
	atLeast(`folio_http_request_duration_seconds_count{route="/cv"}`, 3)
	atLeast(`folio_http_request_duration_seconds_bucket{route="/cv",le="+Inf"}`, 3)
	exactly(`folio_webhooks_total{answer="accepted"}`, 3)
	exactly(`folio_webhooks_total{answer="`+refused+`"}`, 1)
	atLeast(`folio_events_total{outcome="done"}`, 2)
	exactly(`folio_events_total{outcome="dead"}`, 1)
	atLeast(`folio_refresh_duration_seconds_count{collection="cv",outcome="done"}`, 2)
	atLeast(`folio_refresh_duration_seconds_count{collection="blog",outcome="done"}`, 4)
	atLeast(`folio_refresh_duration_seconds_count{collection="blog",outcome="failed"}`, 4)
	atLeast(`folio_delivery_api_requests_total{code="200",collection="cv"}`, 2)
	atLeast(`folio_delivery_api_requests_total{code="200",collection="blog"}`, 4)
	exactly(`folio_delivery_api_requests_total{code="503",collection="blog"}`, 1)
	// The eight scripted 400s answer whichever requests come next: a CV
	// fetch running meanwhile (a refetch of everything) took one once
	// under make test's load; every one is counted, by collection.
	atLeast(`folio_delivery_api_requests_total{code="400",collection="blog"}`, 1)
	if n := s.samples[`folio_delivery_api_requests_total{code="400",collection="blog"}`] +
		s.samples[`folio_delivery_api_requests_total{code="400",collection="cv"}`]; n != 8 {
		t.Errorf("400s counted: %v, want the 8 scripted", n)
	}
	exactly(`folio_delivery_api_retries_total{collection="blog"}`, 1)
	exactly(`folio_auth0_token_exchanges_total{outcome="ok"}`, 1)
	exactly(`folio_auth0_token_exchanges_total{outcome="invalid_client_credentials"}`, 1)
	exactly(`folio_auth0_token_cache_total{result="miss"}`, 2)
	atLeast(`folio_auth0_token_cache_total{result="hit"}`, 3)
	exactly(`folio_queue_depth`, 0)
	exactly(`folio_dead_letters`, 1)
	exactly(`folio_ready`, 1)
	exactly(`folio_redis_up`, 1)
	exactly(`folio_redis_leader`, 1)
	exactly(`folio_webhook_auth_degraded`, 0)
	exactly(`folio_snapshot_entries{collection="blog"}`, 5)
	exactly(`folio_snapshot_entries{collection="cv"}`, 1)
	for _, col := range []string{"cv", "blog"} {
		atLeast(`folio_snapshot_bytes{collection="`+col+`"}`, 100)
		if age := s.samples[`folio_snapshot_age_seconds{collection="`+col+`"}`]; age < 0 || age > 60 {
			t.Errorf("%s snapshot age %v s", col, age)
		}
	}
	// No series names a post, a path or an id.
	for series := range s.samples {
		for _, leak := range []string{"p1", "p2", "p3", "no-such-post", "wp-login", "hook"} {
			if strings.Contains(series, `"`+leak) || strings.Contains(series, "/"+leak) {
				t.Errorf("series %s carries %q", series, leak)
			}
		}
	}
	promcheck.Check(t, s.raw)
	if t.Failed() {
		t.Logf("scrape:\n%s", s.raw)
	}
}
