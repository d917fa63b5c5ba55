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
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
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

// TestDemoLogsNoSetSecret: demo mode logs the signing secret it generates,
// never one the operator set (it logged CONTENTFUL_WEBHOOK_SECRET's value
// as "this generated secret").
func TestDemoLogsNoSetSecret(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	secret := strings.Repeat("s", 64)
	logs := &logbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, envOf(map[string]string{"FOLIO_ADDR": "127.0.0.1:0", "FOLIO_LOG_FORMAT": "json",
			"CONTENTFUL_WEBHOOK_SECRET": secret}), io.Discard, logs)
	}()
	listenAddr(t, logs, done)
	cancel()
	<-done
	if strings.Contains(logs.String(), secret) {
		t.Errorf("the log holds the configured signing secret:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "signed with CONTENTFUL_WEBHOOK_SECRET") {
		t.Errorf("the log does not say which secret signs the demo's webhooks:\n%s", logs)
	}
	// The example command dials the host folio is bound to (it named
	// ":port" only, which dials localhost whatever the bound host).
	if try := logField(t, logs.String(), "try"); !strings.Contains(try, "FOLIO_ADDR=127.0.0.1:") {
		t.Errorf("the demo's example command does not dial the bound host: %s", try)
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

// listen starts an HTTP server on addr (host:0) and returns its port.
func listen(t *testing.T, addr string, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func healthy(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/healthz" {
		http.NotFound(w, r)
		return
	}
	io.WriteString(w, `{"status":"ok"}`)
}

// TestHealthcheckDialsFOLIOAddr: the health check reaches folio where
// FOLIO_ADDR binds it. It used to dial 127.0.0.1 whatever the host, so a
// folio bound to one other address was reported unhealthy and Docker's
// HEALTHCHECK restarted it.
func TestHealthcheckDialsFOLIOAddr(t *testing.T) {
	cases := []struct {
		listen string // where folio listens (port 0: any)
		addr   string // FOLIO_ADDR, with PORT for the port it got
	}{
		{"127.0.0.2:0", "127.0.0.2:PORT"},
		{"[::1]:0", "[::1]:PORT"},
		{"127.0.0.1:0", "localhost:PORT"},
		{"[::1]:0", "localhost:PORT"}, // localhost is 127.0.0.1, then ::1
		{":0", ":PORT"},
		{"0.0.0.0:0", "0.0.0.0:PORT"},
		{"[::]:0", "[::]:PORT"},
		{"[::]:0", " [::]:PORT "},
	}
	ipv6 := true
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		ipv6 = false // a container without IPv6: the IPv4 cases still run
		t.Logf("no IPv6 loopback here (%v): the [::1] and [::] cases are left out", err)
	} else {
		ln.Close()
	}
	for _, c := range cases {
		if !ipv6 && strings.Contains(c.listen, "::") {
			continue
		}
		port := listen(t, c.listen, http.HandlerFunc(healthy))
		env := envOf(map[string]string{"FOLIO_ADDR": strings.ReplaceAll(c.addr, "PORT", port)})
		var out bytes.Buffer
		if err := run(context.Background(), []string{"healthcheck"}, env, &out, io.Discard); err != nil || out.String() != "healthy\n" {
			t.Errorf("folio on %s, FOLIO_ADDR=%q: %v %q", c.listen, c.addr, err, out.String())
		}
	}
	// Bound to 127.0.0.2 only: nothing answers on 127.0.0.1, which the
	// check must not report as folio.
	port := listen(t, "127.0.0.2:0", http.HandlerFunc(healthy))
	err := run(context.Background(), []string{"healthcheck"}, envOf(map[string]string{"FOLIO_ADDR": "127.0.0.1:" + port}), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unhealthy") {
		t.Errorf("a folio on 127.0.0.2 answered for FOLIO_ADDR 127.0.0.1: %v", err)
	}
}

func TestLocalURL(t *testing.T) {
	cases := []struct{ addr, want, err string }{
		{"", "http://localhost:8080/p", ""},
		{":8080", "http://localhost:8080/p", ""},
		{"0.0.0.0:8080", "http://localhost:8080/p", ""},
		{"[::]:8080", "http://localhost:8080/p", ""},
		{"[0:0::0]:8080", "http://localhost:8080/p", ""},
		{"127.0.0.2:8080", "http://127.0.0.2:8080/p", ""},
		{"[::1]:9000", "http://[::1]:9000/p", ""},
		{"[fe80::1%eth0]:8080", "http://[fe80::1%25eth0]:8080/p", ""},
		{"folio.internal:8080", "http://folio.internal:8080/p", ""},
		{":http", "http://localhost:80/p", ""},
		{":0", "", "names no fixed port"},
		{"127.0.0.1", "", "is not host:port"},
		{"host:", "", "is not host:port"},
		{":no-such-service", "", "unknown port"},
	}
	for _, c := range cases {
		got, err := localURL(envOf(map[string]string{"FOLIO_ADDR": c.addr}), "/p")
		if got != c.want || (c.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("FOLIO_ADDR %q: %q, %v; want %q, %q", c.addr, got, err, c.want, c.err)
			continue
		}
		if got == "" {
			continue
		}
		// What the commands build from it reaches the same place.
		req, err := newRequest(context.Background(), http.MethodGet, got, nil)
		if err != nil || req.URL.String() != got {
			t.Errorf("FOLIO_ADDR %q: the request for %q: %v %v", c.addr, got, req, err)
		}
	}
}

// recorder is a server that counts the requests it gets.
type recorder struct {
	n   atomic.Int32
	url string
}

func newRecorder(t *testing.T, addr string) *recorder {
	rec := &recorder{}
	port := listen(t, addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.n.Add(1)
		io.WriteString(w, `{"status":"accepted"}`)
	}))
	host, _, _ := net.SplitHostPort(addr)
	rec.url = "http://" + net.JoinHostPort(host, port) + "/webhooks/contentful"
	return rec
}

// TestCommandsFollowNoRedirect: every command reports a 3xx as an error
// naming its Location and sends nothing to it: following would resend the
// signature and the Auth0 credentials to wherever it points.
func TestCommandsFollowNoRedirect(t *testing.T) {
	dir := t.TempDir()
	secretFile := dir + "/signing"
	os.WriteFile(secretFile, []byte(strings.Repeat("k", 64)), 0o600)
	env := envOf(map[string]string{"FOLIO_CLIENT_SECRET": "client-secret-value"})
	for _, code := range []int{301, 302, 303, 307, 308} {
		target := newRecorder(t, "127.0.0.2:0") // another host
		var got *http.Request
		port := listen(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r
			http.Redirect(w, r, target.url, code)
		}))
		from := "http://127.0.0.1:" + port
		commands := [][]string{
			{"webhook", "send", "--url", from + "/webhooks/contentful", "--type", "blogPost", "--id", "p1",
				"--secret-file", secretFile, "--client-id", "hook"},
			{"refresh", "--url", from + "/admin/refresh", "--secret-file", secretFile, "--client-id", "hook"},
			{"healthcheck", "--url", from + "/healthz"},
		}
		for _, args := range commands {
			got = nil
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, env, &stdout, &stderr)
			exit := exitCode(err, &stderr)
			out := stdout.String() + stderr.String()
			if exit != 1 || !strings.Contains(out, fmt.Sprint(code)) {
				t.Errorf("%s after a %d: exit %d, output %q", args[0], code, exit, out)
			}
			if !strings.Contains(out, "to "+target.url+", not followed") {
				t.Errorf("%s after a %d: %q does not name the Location %s", args[0], code, out, target.url)
			}
			if got == nil {
				t.Fatalf("%s: the first server got nothing", args[0])
			}
			if strings.Contains(out, "client-secret-value") {
				t.Errorf("%s: the output holds the client secret: %q", args[0], out)
			}
		}
		if n := target.n.Load(); n != 0 {
			t.Errorf("a %d was followed: the Location got %d requests", code, n)
		}
	}
}

// TestRedirectErrorsHideTheQuery: the error naming a 3xx's Location
// leaves out its query and user credentials, as errors about the --url do
// (it repeated "?token=..." of the Location).
func TestRedirectErrorsHideTheQuery(t *testing.T) {
	dir := t.TempDir()
	secretFile := dir + "/signing"
	os.WriteFile(secretFile, []byte(strings.Repeat("k", 64)), 0o600)
	port := listen(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://user:pass-value@127.0.0.2:1/final?token=token-value#frag-value")
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	from := "http://127.0.0.1:" + port
	for _, args := range [][]string{
		{"webhook", "send", "--url", from + "/webhooks/contentful", "--type", "blogPost", "--id", "p1", "--secret-file", secretFile},
		{"refresh", "--url", from + "/admin/refresh", "--secret-file", secretFile},
		{"healthcheck", "--url", from + "/healthz"},
	} {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), args, envOf(nil), &stdout, &stderr)
		exitCode(err, &stderr)
		out := stdout.String() + stderr.String()
		if !strings.Contains(out, "to http://127.0.0.2:1/final, not followed") {
			t.Errorf("%s: %q does not name the Location's path", args[0], out)
		}
		for _, secret := range []string{"token-value", "pass-value", "frag-value"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s: the output repeats %s: %q", args[0], secret, out)
			}
		}
	}
}

// nonLoopback returns an address of this machine outside loopback.
func nonLoopback(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			return n.IP.String()
		}
	}
	t.Fatal("this machine has no IPv4 address outside loopback to test plain http against")
	return ""
}

// TestCredentialsOverPlainHTTP: Auth0 credentials (a client secret, a
// token) are readable on the wire over http, so they go to loopback, or
// anywhere over https, or over http with --allow-http; a signature alone
// reveals no secret and goes anywhere.
func TestCredentialsOverPlainHTTP(t *testing.T) {
	dir := t.TempDir()
	secretFile, tokenFile := dir+"/signing", dir+"/token"
	os.WriteFile(secretFile, []byte(strings.Repeat("k", 64)), 0o600)
	os.WriteFile(tokenFile, []byte("token-value-123"), 0o600)
	env := envOf(map[string]string{"FOLIO_CLIENT_SECRET": "client-secret-value"})
	remote := newRecorder(t, nonLoopback(t)+":0")
	local := newRecorder(t, "127.0.0.1:0")
	https := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer https.Close()
	cases := []struct {
		url   string
		creds []string
		code  int
	}{
		{remote.url, []string{"--client-id", "hook"}, 2},
		{remote.url, []string{"--token-file", tokenFile}, 2},
		{remote.url, []string{"--client-id", "hook", "--allow-http"}, 0},
		{remote.url, []string{"--token-file", tokenFile, "--allow-http"}, 0},
		{remote.url, []string{"--secret-file", secretFile}, 0},
		{local.url, []string{"--client-id", "hook"}, 0},
		{"http://folio.example/webhooks/contentful", []string{"--client-id", "hook"}, 2},
		// https: refused by the test server's certificate, not by the rule.
		{https.URL + "/webhooks/contentful", []string{"--client-id", "hook"}, 1},
	}
	for _, c := range cases {
		before := remote.n.Load() + local.n.Load()
		args := append([]string{"webhook", "send", "--url", c.url, "--type", "blogPost", "--id", "p1"}, c.creds...)
		var stdout, stderr bytes.Buffer
		code := exitCode(run(context.Background(), args, env, &stdout, &stderr), &stderr)
		out := stdout.String() + stderr.String()
		if code != c.code {
			t.Errorf("%v: exit %d, want %d: %s", args[3:], code, c.code, out)
		}
		if c.code == 2 {
			if !strings.Contains(out, "plain http") || remote.n.Load()+local.n.Load() != before {
				t.Errorf("%v: refused without saying why, or sent anyway: %s", args[3:], out)
			}
		}
		for _, s := range []string{"client-secret-value", "token-value-123"} {
			if strings.Contains(out, s) {
				t.Errorf("%v: the output holds a secret: %s", args[3:], out)
			}
		}
	}
}

// TestCommandURLs: --url must be an http(s) URL without credentials in it,
// and no error repeats the URL's credentials or query.
func TestCommandURLs(t *testing.T) {
	cases := []struct {
		url, want string
	}{
		{"http://user:hunter2-pw@127.0.0.1:1/healthz", "carries user credentials"},
		{"http://user:hunter2-pw@127.0.0.1:bad/healthz", "not a URL"},
		{"ftp://127.0.0.1/healthz", "http:// or https://"},
		{"/healthz", "http:// or https://"},
		{"http:///healthz", "names no host"},
		{"http://127.0.0.1:1/healthz?token=hunter2-pw", "unhealthy"},
	}
	for _, c := range cases {
		for _, args := range [][]string{{"healthcheck", "--url", c.url}, {"refresh", "--url", c.url},
			{"webhook", "send", "--url", c.url, "--id", "x", "--type", "t"}} {
			var stdout, stderr bytes.Buffer
			exitCode(run(context.Background(), args, envOf(nil), &stdout, &stderr), &stderr)
			out := stdout.String() + stderr.String()
			if strings.Contains(out, "hunter2") {
				t.Errorf("%v: the output repeats the URL's secret: %s", args, out)
			}
			if (args[0] == "healthcheck" && !strings.Contains(out, c.want)) || !strings.Contains(out, "folio:") {
				t.Errorf("%v: %q lacks %q", args, out, c.want)
			}
		}
	}
}

// TestHealthcheckIsBounded: a folio that accepts the connection and never
// answers is unhealthy within the check's own timeout, inside Docker's.
func TestHealthcheckIsBounded(t *testing.T) {
	hang := make(chan struct{})
	port := listen(t, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-hang }))
	defer close(hang)
	err := run(context.Background(), []string{"healthcheck"}, envOf(map[string]string{"FOLIO_ADDR": "127.0.0.1:" + port}), io.Discard, io.Discard)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a hanging folio: %v", err)
	}
}
