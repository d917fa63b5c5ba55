// Package e2e runs the folio binary as users do: real processes, a real
// redis-server, a local Delivery API, signed webhooks over HTTP.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/folio-cms/folio/internal/logbuf"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/internal/redistest"
)

const (
	token  = "cda-token"
	secret = "e2e-signing-secret-e2e-signing-secret-e2e-signing-secret-e2e-sig"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "folio-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "folio")
	build := exec.Command("go", "build", "-o", binary, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building folio:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// space is a local Delivery API with a profile and a few posts.
func space(t testing.TB) (*localapi.Server, string) {
	api := localapi.New("s", "master", token)
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	es := []json.RawMessage{entry("me", "profile", 1, `{"name":"Ada"}`)}
	for i := range 5 {
		es = append(es, post(fmt.Sprintf("p%d", i), 1))
	}
	if err := api.Put(es...); err != nil {
		t.Fatal(err)
	}
	return api, srv.URL
}

func entry(id, typ string, rev int, fields string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sys":{"type":"Entry","id":%q,"revision":%d,"createdAt":"2025-01-01T00:00:00Z",
		"updatedAt":"2025-01-01T00:00:%02dZ","contentType":{"sys":{"type":"Link","linkType":"ContentType","id":%q}}},"fields":%s}`,
		id, rev, rev%60, typ, fields))
}

func post(id string, rev int) json.RawMessage {
	return entry(id, "blogPost", rev, fmt.Sprintf(`{"slug":%q,"title":"%s at revision %d","publishDate":"2025-01-01"}`, id, id, rev))
}

// folio is one running folio process.
type folio struct {
	t    testing.TB
	cmd  *exec.Cmd
	URL  string
	logs *logbuf.Buffer
	done chan struct{}
}

// start runs folio against the Delivery API at api and the Redis at
// redisURL ("" for none), and waits until it answers /healthz.
//
// FreePort's port can be taken by another process (packages test in
// parallel) before folio binds it: folio then exits, and start tries again
// on a new port, as the oracle's lanes do.
func start(t testing.TB, api, redisURL string, extra ...string) *folio {
	t.Helper()
	for attempt := 1; ; attempt++ {
		f := launch(t, api, redisURL, extra...)
		if attempt < 3 && f.lostPort(10*time.Second) {
			continue
		}
		f.until("healthz", 10*time.Second, func() bool { return f.status("/healthz") == 200 })
		return f
	}
}

// lostPort waits up to limit for folio to answer /healthz or to exit, and
// reports whether it exited because another process held its port.
func (f *folio) lostPort(limit time.Duration) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-f.done:
			return strings.Contains(f.logs.String(), "address already in use")
		default:
		}
		if f.status("/healthz") == 200 {
			return false
		}
	}
	return false
}

// launch runs one folio process on a port FreePort chose.
func launch(t testing.TB, api, redisURL string, extra ...string) *folio {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	env := append(os.Environ(),
		"FOLIO_ADDR="+addr, "FOLIO_LOG_FORMAT=json", "CONTENTFUL_SPACE_ID=s", "CONTENTFUL_ACCESS_TOKEN="+token,
		"CONTENTFUL_BASE_URL="+api, "CONTENTFUL_WEBHOOK_SECRET="+secret, "FOLIO_CV_TYPES=profile",
		"FOLIO_REFRESH_INTERVAL=0", "FOLIO_REDIS_LEASE_TTL=1s", "FOLIO_REDIS_CLAIM_IDLE=300ms")
	if redisURL != "" {
		env = append(env, "REDIS_URL="+redisURL)
	}
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(env, extra...)
	f := &folio{t: t, cmd: cmd, URL: "http://" + addr, logs: &logbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = f.logs, f.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(f.done) }()
	t.Cleanup(f.stop)
	return f
}

func (f *folio) stop() {
	select {
	case <-f.done:
		return
	default:
	}
	f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
	case <-time.After(10 * time.Second):
		f.cmd.Process.Kill()
		<-f.done
	}
}

func (f *folio) kill() {
	f.cmd.Process.Kill()
	<-f.done
}

func (f *folio) status(path string) int {
	res, err := http.Get(f.URL + path)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

func (f *folio) get(path string) (int, string) {
	req, _ := http.NewRequest("GET", f.URL+path, nil)
	return send(req)
}

// send makes req and returns the status and body (0 and the error when
// there is no answer).
func send(req *http.Request) (int, string) {
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// until polls cond (the processes are outside the test: polling is how a
// user sees them change), failing with the process log after limit.
func (f *folio) until(what string, limit time.Duration, cond func() bool) {
	f.t.Helper()
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case <-f.done:
			f.t.Fatalf("folio exited while waiting for %s:\n%s", what, f.logs.String())
		default:
		}
		if cond() {
			return
		}
	}
	f.t.Fatalf("timed out waiting for %s:\n%s", what, tail(f.logs.String(), 40))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// webhook sends a signed publish (or unpublish) for a blog post.
func (f *folio) webhook(id string, rev int, action contentful.Action) (int, string) {
	t := contentful.Topic{Kind: "Entry", Action: action}
	body := contentful.WebhookBody(t, contentful.Change{Kind: "Entry", ID: id, ContentType: "blogPost", Revision: rev,
		Space: "s", Environment: "master"}, time.Now())
	req, _ := http.NewRequest("POST", f.URL+"/webhooks/contentful", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
	req.Header.Set("X-Contentful-Topic", t.String())
	auth.Sign(req, body, secret, time.Now(), "X-Contentful-Topic")
	return send(req)
}

// events returns /status's events.
func (f *folio) events() []struct {
	ID, Entity, Outcome string
	Revision            int
} {
	var st struct {
		Events []struct {
			ID, Entity, Outcome string
			Revision            int
		}
	}
	_, body := f.get("/status")
	json.Unmarshal([]byte(body), &st)
	return st.Events
}

func (f *folio) serves(id string, rev int) bool {
	code, body := f.get("/blog/" + id)
	return code == 200 && strings.Contains(body, fmt.Sprintf("at revision %d", rev))
}

func blogFetches(api *localapi.Server) int {
	return api.Count(func(r localapi.Request) bool { return r.Query.Get("content_type") == "blogPost" })
}

func cvFetches(api *localapi.Server) int {
	return api.Count(func(r localapi.Request) bool { return r.Query.Get("content_type") == "profile" })
}

// leader waits until one of fs leads and returns it.
func leader(t testing.TB, fs ...*folio) *folio {
	t.Helper()
	var found *folio
	fs[0].until("a leader", 10*time.Second, func() bool {
		for _, f := range fs {
			var st struct{ Redis struct{ Leader bool } }
			_, body := f.get("/status")
			if json.Unmarshal([]byte(body), &st) == nil && st.Redis.Leader {
				found = f
				return true
			}
		}
		return false
	})
	return found
}

// replicas starts three folio processes on one Redis, waits until all are
// ready and one leads, and returns them, the leader and a follower.
func replicas(t testing.TB, api, redisURL string) (fs []*folio, lead, follower *folio) {
	t.Helper()
	fs = []*folio{start(t, api, redisURL), start(t, api, redisURL), start(t, api, redisURL)}
	for _, f := range fs {
		f.until("ready", 10*time.Second, func() bool { return f.status("/readyz") == 200 })
	}
	lead = leader(t, fs...)
	follower = fs[0]
	if follower == lead {
		follower = fs[1]
	}
	return fs, lead, follower
}

// startLeader starts a lone folio and waits until it leads and has stored
// both collections in Redis.
func startLeader(t testing.TB, api, redisURL string) *folio {
	t.Helper()
	f := start(t, api, redisURL)
	f.until("ready", 10*time.Second, func() bool { return f.status("/readyz") == 200 })
	leader(t, f)
	f.until("snapshot saved", 10*time.Second, func() bool { return strings.Count(f.logs.String(), "redis: snapshot saved") >= 2 })
	return f
}

func TestRestartServesFromRedisWithContentfulDown(t *testing.T) {
	rds := redistest.Start(t)
	_, api := space(t)
	a := startLeader(t, api, rds.URL)
	before := map[string]string{}
	for _, p := range []string{"/cv", "/blog", "/blog/p1"} {
		_, before[p] = a.get(p)
	}
	a.stop()

	b := start(t, "http://127.0.0.1:1", rds.URL) // Contentful unreachable
	b.until("ready from redis", 5*time.Second, func() bool { return b.status("/readyz") == 200 })
	for p, want := range before {
		if _, got := b.get(p); got != want {
			t.Errorf("%s after restart differs:\nwant %.100s\ngot  %.100s", p, want, got)
		}
	}
}

func TestKilledProcessEventIsCompletedByTheNext(t *testing.T) {
	rds := redistest.Start(t)
	apiSrv, api := space(t)
	a := startLeader(t, api, rds.URL)

	// The refresh will hang in the Delivery API: kill -9 after the 202.
	apiSrv.SetDelay(time.Hour)
	if err := apiSrv.Put(post("p1", 2)); err != nil {
		t.Fatal(err)
	}
	if code, body := a.webhook("p1", 2, contentful.Publish); code != 202 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	a.until("the fetch started", 5*time.Second, func() bool {
		return apiSrv.Count(func(r localapi.Request) bool { return r.Status == 0 }) > 0
	})
	a.kill()
	apiSrv.SetDelay(0)

	b := start(t, api, rds.URL)
	b.until("the event done by the next process", 15*time.Second, func() bool { return b.serves("p1", 2) })
	done := 0
	b.until("the event log", 5*time.Second, func() bool {
		done = 0
		for _, e := range b.events() {
			if e.Entity == "Entry:p1" && e.Revision == 2 && e.Outcome == "done" {
				done++
			}
		}
		return done > 0
	})
	if done != 1 {
		t.Fatalf("the event is done %d times in the log", done)
	}
}

func TestThreeReplicasOneFetch(t *testing.T) {
	rds := redistest.Start(t)
	apiSrv, api := space(t)
	fs, lead, follower := replicas(t, api, rds.URL)
	lead.until("catch-up done", 10*time.Second, func() bool { return strings.Count(lead.logs.String(), "redis: snapshot saved") >= 2 })
	lead.until("start-up fetches over", 5*time.Second, func() bool {
		return apiSrv.Count(func(r localapi.Request) bool { return r.Status == 0 }) == 0
	})
	apiSrv.Reset()

	if err := apiSrv.Put(post("p3", 2)); err != nil {
		t.Fatal(err)
	}
	// The webhook goes to a follower: the leader fetches, all serve.
	start := time.Now()
	if code, body := follower.webhook("p3", 2, contentful.Publish); code != 202 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	for _, f := range fs {
		f.until("the new revision on every replica", 10*time.Second, func() bool { return f.serves("p3", 2) })
	}
	t.Logf("a change reached all three replicas in %v", time.Since(start))
	if n, c := blogFetches(apiSrv), cvFetches(apiSrv); n != 1 || c != 0 {
		t.Fatalf("the Delivery API saw %d blog and %d CV fetches, want 1 and 0", n, c)
	}

	// The same change delivered to two replicas is processed once.
	if err := apiSrv.Put(post("p4", 2)); err != nil {
		t.Fatal(err)
	}
	apiSrv.Reset()
	c1, _ := fs[1].webhook("p4", 2, contentful.Publish)
	c2, body := fs[2].webhook("p4", 2, contentful.Publish)
	if c1 != 202 || c2 != 200 || !strings.Contains(body, "duplicate") {
		t.Fatalf("duplicate to another replica: %d, %d %s", c1, c2, body)
	}
	for _, f := range fs {
		f.until("the duplicate's change", 10*time.Second, func() bool { return f.serves("p4", 2) })
	}
	if n := blogFetches(apiSrv); n != 1 {
		t.Fatalf("a duplicate caused %d fetches", n)
	}
}

func TestRedisOutage(t *testing.T) {
	rds := redistest.Start(t)
	apiSrv, api := space(t)
	f := start(t, api, rds.URL)
	f.until("ready", 10*time.Second, func() bool { return f.status("/readyz") == 200 })
	leader(t, f)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var failedReads, reads int
	var mu sync.Mutex
	readersDone := make(chan struct{})
	go func() {
		defer close(readersDone)
		for ctx.Err() == nil {
			code := f.status("/blog")
			mu.Lock()
			reads++
			if code != 200 {
				failedReads++
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()

	rev := 1
	send := func() {
		rev++
		id := fmt.Sprintf("p%d", rev%5)
		if err := apiSrv.Put(post(id, rev)); err != nil {
			t.Fatal(err)
		}
		if code, body := f.webhook(id, rev, contentful.Publish); code != 202 {
			t.Fatalf("webhook during the outage test: %d %s", code, body)
		}
	}
	for range 5 {
		send()
	}
	rds.Stop()
	outage := time.Now()
	for time.Since(outage) < 10*time.Second {
		send()
		time.Sleep(500 * time.Millisecond)
	}
	var st struct {
		Redis struct{ Connected, Degraded bool }
	}
	_, body := f.get("/status")
	json.Unmarshal([]byte(body), &st)
	if st.Redis.Connected || !st.Redis.Degraded {
		t.Errorf("/status during the outage: %s", body)
	}
	if _, m := f.get("/metrics"); !strings.Contains(m, "folio_redis_up 0") {
		t.Error("/metrics does not show Redis down")
	}
	rds.Restart(t)
	for range 5 {
		send()
	}
	last := rev
	f.until("every accepted event processed", 20*time.Second, func() bool {
		return f.serves(fmt.Sprintf("p%d", last%5), last)
	})
	f.until("reconnected", 10*time.Second, func() bool {
		_, body := f.get("/status")
		return strings.Contains(body, `"connected":true`)
	})
	cancel()
	<-readersDone
	if failedReads != 0 || reads == 0 {
		t.Fatalf("%d of %d reads failed", failedReads, reads)
	}
	f.until("every event finished", 20*time.Second, func() bool {
		pending := 0
		for _, e := range f.events() {
			if e.Outcome != "done" && e.Outcome != "duplicate" && e.Outcome != "ignored" {
				pending++
			}
		}
		return pending == 0
	})
}

// TestSafetyRefreshWithRedis: with Redis, only the leader runs the safety
// refresh, and it repairs a change whose webhook never came.
func TestSafetyRefreshWithRedis(t *testing.T) {
	rds := redistest.Start(t)
	apiSrv, api := space(t)
	a := startLeader(t, api, rds.URL)
	b := start(t, api, rds.URL, "FOLIO_REFRESH_INTERVAL=300ms")
	b.until("ready", 10*time.Second, func() bool { return b.status("/readyz") == 200 })
	a.stop() // b takes over the lease and with it the safety refresh
	leader(t, b)
	b.until("the new leader's catch-up", 10*time.Second, func() bool {
		return strings.Contains(b.logs.String(), `"topic":"leader-catch-up"`)
	})
	if err := apiSrv.Put(post("p2", 7)); err != nil {
		t.Fatal(err)
	}
	b.until("the missed change repaired", 15*time.Second, func() bool { return b.serves("p2", 7) })
	// The content is swapped in just before the event's line is logged.
	b.until("the safety refresh in the log", 5*time.Second, func() bool {
		return strings.Contains(b.logs.String(), `"topic":"safety-refresh"`)
	})
}
