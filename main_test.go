package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/internal/httpserver"
	"github.com/folio-cms/folio/internal/logbuf"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestCommands(t *testing.T) {
	cases := []struct {
		args []string
		code int
		out  string // in stdout or stderr
	}{
		{[]string{"version"}, 0, "folio dev"},
		{[]string{"help"}, 0, "Usage:"},
		{[]string{"--help"}, 0, "Usage:"},
		{[]string{"healthcheck", "--help"}, 0, "-url string"},
		{[]string{"webhook", "send", "--help"}, 0, "-secret-file string"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"serve", "--nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"version", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"healthcheck", "--url", "http://127.0.0.1:1/healthz"}, 1, "unhealthy"},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), c.args, envOf(nil), &stdout, &stderr)
		code := exitCode(err, &stderr)
		out := stdout.String() + stderr.String()
		if code != c.code || !strings.Contains(out, c.out) {
			t.Errorf("folio %v: exit %d, want %d; output %q lacks %q", c.args, code, c.code, out, c.out)
		}
		if n := strings.Count(out, "Usage:"); n > 1 {
			t.Errorf("folio %v prints its usage %d times", c.args, n)
		}
	}
}

func TestConfigErrorsStopStartup(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), nil, envOf(map[string]string{
		"CONTENTFUL_SPACE_ID": "space", "FOLIO_ADDR": "nowhere", "FOLIO_LOG_FORMAT": "yaml",
	}), &stdout, &stderr)
	if exitCode(err, &stderr) != 1 {
		t.Fatalf("exit code for a bad configuration: %v", err)
	}
	for _, name := range []string{"CONTENTFUL_ACCESS_TOKEN", "FOLIO_ADDR", "FOLIO_LOG_FORMAT"} {
		if !strings.Contains(stderr.String(), name) {
			t.Errorf("the start-up error does not name %s:\n%s", name, stderr.String())
		}
	}
}

// TestDemoEndToEnd runs the real program in demo mode: it must serve the
// sample CV and blog through the real client, and stop cleanly.
func TestDemoEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &logbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, envOf(map[string]string{"FOLIO_ADDR": "127.0.0.1:0", "FOLIO_LOG_FORMAT": "json"}), io.Discard, logs)
	}()
	base := "http://" + listenAddr(t, logs, done)

	ready := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				ready = true
				break
			}
		}
	}
	if !ready {
		t.Fatalf("demo never became ready:\n%s", logs.String())
	}
	var cv map[string][]json.RawMessage
	getJSON(t, base+"/cv", &cv)
	for _, typ := range []string{"profile", "experience", "education", "skill", "project"} {
		if len(cv[typ]) == 0 {
			t.Errorf("demo CV has no %s", typ)
		}
	}
	var blog struct {
		Total, Page, Pages int
		Items              []struct {
			ID       string
			Revision int
			Fields   struct {
				Slug, Title string
			}
		}
	}
	getJSON(t, base+"/blog", &blog)
	if blog.Total != 5 || blog.Page != 1 || blog.Pages != 1 || blog.Items[0].Fields.Title == "" {
		t.Fatalf("demo blog: %+v", blog)
	}
	var post struct {
		Fields struct{ Author struct{ ID string } }
	}
	getJSON(t, base+"/blog/"+blog.Items[0].Fields.Slug, &post)
	if post.Fields.Author.ID == "" {
		t.Fatalf("demo post: the author is not linked in full: %+v", post)
	}
	// The whole loop: a signed webhook with the demo secret, then the event
	// is done on /status.
	secret := logField(t, logs.String(), "secret")
	var sent bytes.Buffer
	err := run(ctx, []string{"webhook", "send", "--url", base + "/webhooks/contentful", "--type", "blogPost",
		"--id", blog.Items[0].ID, "--revision", fmt.Sprint(blog.Items[0].Revision)}, envOf(map[string]string{"CONTENTFUL_WEBHOOK_SECRET": secret}), &sent, io.Discard)
	if err != nil || !strings.Contains(sent.String(), "202 Accepted") {
		t.Fatalf("webhook send: %v\n%s", err, sent.String())
	}
	finished := false
	for deadline := time.Now().Add(10 * time.Second); !finished && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var st struct{ Events []struct{ Outcome string } }
		getJSON(t, base+"/status", &st)
		finished = len(st.Events) > 0 && st.Events[0].Outcome == "done"
	}
	if !finished {
		t.Fatal("the demo webhook never finished as done on /status")
	}
	if err := run(ctx, []string{"webhook", "send", "--url", base + "/webhooks/contentful", "--type", "blogPost", "--id", "x"},
		envOf(nil), io.Discard, io.Discard); err == nil {
		t.Fatal("an unsigned webhook was accepted by the demo")
	}

	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`folio_webhooks_total{answer="accepted"} 1`, `folio_events_total{outcome="done"} 1`,
		`folio_ready 1`, `folio_snapshot_entries{collection="blog"} 5`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	var hc bytes.Buffer
	if err := run(ctx, []string{"healthcheck", "--url", base + "/healthz"}, envOf(nil), &hc, io.Discard); err != nil || !strings.Contains(hc.String(), "healthy") {
		t.Errorf("healthcheck against a running folio: %v %q", err, hc.String())
	}
	if !strings.Contains(logs.String(), "DEMO MODE") {
		t.Error("demo mode is not logged loudly")
	}
	if !strings.Contains(logs.String(), `"msg":"collection loaded","collection":"blog","entries":5`) {
		t.Errorf("no progress line per collection:\n%s", logs.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after SIGTERM: %v", err)
		}
	case <-time.After(shutdownGrace + 2*time.Second):
		t.Fatal("folio did not stop")
	}
}

func listenAddr(t *testing.T, logs *logbuf.Buffer, done chan error) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("folio exited: %v\n%s", err, logs.String())
		default:
		}
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "folio listening" {
				return line.Addr
			}
		}
	}
	t.Fatalf("folio never listened:\n%s", logs.String())
	return ""
}

// logField returns the first value of a field in JSON log lines.
func logField(t *testing.T, logs, field string) string {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil {
			if v, ok := line[field].(string); ok {
				return v
			}
		}
	}
	t.Fatalf("no %q in the logs:\n%s", field, logs)
	return ""
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestShutdownDrainsInFlight: SIGTERM stops accepting new connections but
// lets a request already in progress finish.
func TestShutdownDrainsInFlight(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	srv := httpserver.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHTTP(ctx, srv, ln, 5*time.Second, slog.New(slog.DiscardHandler)) }()

	got := make(chan string, 1)
	go func() {
		res, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		got <- string(b)
	}()
	<-entered
	cancel() // SIGTERM
	// New connections are refused once shutdown began.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after shutdown began")
		}
	}
	select {
	case err := <-done:
		t.Fatalf("serveHTTP returned before the in-flight request finished: %v", err)
	default:
	}
	close(release)
	if body := <-got; body != "finished" {
		t.Fatalf("in-flight request: %q", body)
	}
	if err := <-done; err != nil {
		t.Fatalf("serveHTTP: %v", err)
	}
}

func TestShutdownIsBounded(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	entered := make(chan struct{})
	srv := httpserver.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-block
	}))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveHTTP(ctx, srv, ln, 50*time.Millisecond, slog.New(slog.DiscardHandler)) }()
	go http.Get("http://" + ln.Addr().String())
	<-entered
	cancel()
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a stuck request must not hold shutdown past the grace: %v", err)
	}
}
