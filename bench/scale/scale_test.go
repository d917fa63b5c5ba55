//go:build scale

// Package scale measures folio on real-sized content (issue 9): the real
// binary against a generated space (spacegen) served by the local Delivery
// API on loopback, memory-only and with Redis, for 100, 1,000 and 10,000
// posts. `make bench-scale` runs it and prints one table; see README.md
// beside this file for the columns and the knobs.
package scale

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/contentful/localapi/spacegen"
	"github.com/folio-cms/folio/internal/redistest"
)

const (
	space  = "s"
	token  = "cda-token"
	secret = "scale-signing-secret-scale-signing-secret-scale-signing-secret-x"
)

// config is what the environment asks for.
type config struct {
	sizes   []int
	modes   []string // "memory", "redis"
	body    int
	changes int
	timeout time.Duration // per phase (cold start, changes) of each run
	maxRSS  int64         // bytes; folio is killed above it
	links   bool
	binary  string
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func readConfig(t *testing.T) config {
	c := config{binary: os.Getenv("FOLIO_BINARY")}
	for f := range strings.SplitSeq(env("SCALE_SIZES", "100,1000,10000"), ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("SCALE_SIZES: %q is not a number of posts", f)
		}
		c.sizes = append(c.sizes, n)
	}
	for m := range strings.SplitSeq(env("SCALE_MODES", "memory,redis"), ",") {
		if m != "memory" && m != "redis" {
			t.Fatalf("SCALE_MODES: %q is neither memory nor redis", m)
		}
		c.modes = append(c.modes, m)
	}
	var err error
	if c.body, err = strconv.Atoi(env("SCALE_BODY", strconv.Itoa(spacegen.DefaultBodyBytes))); err != nil {
		t.Fatalf("SCALE_BODY: %v", err)
	}
	if c.changes, err = strconv.Atoi(env("SCALE_CHANGES", "30")); err != nil {
		t.Fatalf("SCALE_CHANGES: %v", err)
	}
	if c.timeout, err = time.ParseDuration(env("SCALE_TIMEOUT", "5m")); err != nil {
		t.Fatalf("SCALE_TIMEOUT: %v", err)
	}
	mb, err := strconv.ParseInt(env("SCALE_MAX_RSS_MB", "6144"), 10, 64)
	if err != nil {
		t.Fatalf("SCALE_MAX_RSS_MB: %v", err)
	}
	c.maxRSS = mb << 20
	c.links = env("SCALE_LINKS", "posts") != "none"
	return c
}

// row is one run's figures; a field left empty prints as "-".
type row struct {
	posts int
	mode  string
	cells map[string]string
}

var columns = []string{
	"cold start", "API time (load)", "API reqs / MB", "catch-up", "change p50", "change p99",
	"p50 − API", "p99 − API", "RSS peak", "RSS after", "heap after",
	"/blog", "/blog gz", "/blog?page=1", "one post", "Redis",
}

func TestScale(t *testing.T) {
	c := readConfig(t)
	if c.binary == "" {
		c.binary = filepath.Join(t.TempDir(), "folio")
		build := exec.Command("go", "build", "-o", c.binary, "github.com/folio-cms/folio")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			t.Fatalf("building folio: %v", err)
		}
	}
	fmt.Printf("bench-scale: sizes %v, modes %v, body %d B, %d changes, timeout %s per phase, RSS limit %d MiB, links between posts: %v\n",
		c.sizes, c.modes, c.body, c.changes, c.timeout, c.maxRSS>>20, c.links)
	var rows []row
	for _, n := range c.sizes {
		began := time.Now()
		gen := spacegen.Generate(spacegen.Options{Posts: n, BodyBytes: c.body, NoPostLinks: !c.links})
		fmt.Printf("generated %d posts in %s\n", n, time.Since(began).Round(time.Millisecond))
		for _, mode := range c.modes {
			var r row
			t.Run(fmt.Sprintf("%d/%s", n, mode), func(t *testing.T) { r = run(t, c, gen, mode) })
			rows = append(rows, r)
			fmt.Println(formatRow(r))
		}
	}
	fmt.Println()
	fmt.Print(table(rows))
}

// run measures one size in one mode: a fresh local API and folio process
// (and Redis), the first load, the changes, then memory and sizes.
func run(t *testing.T, c config, gen *spacegen.Space, mode string) row {
	r := row{posts: gen.Posts(), mode: mode, cells: map[string]string{}}
	api := localapi.New(space, "master", token)
	if err := api.Put(gen.Entities()...); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	defer srv.Close()
	var rds *redistest.Server
	if mode == "redis" {
		rds = redistest.Start(t)
	}
	f := startFolio(t, c, srv.URL, rds)
	defer f.stop()

	// Cold start: exec to /readyz 200.
	cold, err := f.until(c.timeout, func() bool { return f.status("/readyz") == 200 })
	loadReqs := api.Requests()
	r.cells["API time (load)"] = ms(busy(loadReqs, time.Time{}, time.Now()))
	r.cells["API reqs / MB"] = fmt.Sprintf("%d / %.1f", len(loadReqs), float64(sumBytes(loadReqs))/1e6)
	if err != nil {
		r.cells["cold start"] = err.Error()
		r.cells["RSS peak"] = mib(f.peak())
		return r
	}
	r.cells["cold start"] = ms(cold)

	// Sizes of what folio serves.
	blog, _ := f.get("/blog", "")
	r.cells["/blog"] = size(len(blog))
	if gz, _ := f.get("/blog", "gzip"); len(gz) > 0 {
		r.cells["/blog gz"] = size(len(gz))
	}
	if page, code := f.get("/blog?page=1", ""); code != 200 || bytes.Equal(page, blog) {
		r.cells["/blog?page=1"] = "not paged"
	} else {
		r.cells["/blog?page=1"] = size(len(page))
	}
	if one, code := f.get("/blog/"+gen.Slug(gen.Posts()/2), ""); code == 200 {
		r.cells["one post"] = size(len(one))
	}

	// A new leader fetches everything again once the lag bound has passed
	// (refresh.Engine.CatchUp): measured apart, so the changes below meet
	// the steady state a leader spends its life in.
	if rds != nil {
		caught, err := f.until(c.timeout+cdnWait, f.caughtUp)
		r.cells["catch-up"] = ms(caught)
		if err != nil {
			r.cells["catch-up"] = err.Error()
		}
	}

	// Changes: edit a post in the API, send the signed webhook, poll until
	// the post is served at its new revision.
	var took, own []time.Duration
	var timedOut string
	deadline := time.Now().Add(c.timeout)
	for k := range c.changes {
		i := (k*7919 + gen.Posts()/3) % gen.Posts()
		e := gen.Edit(i)
		if err := api.Put(e.Entry); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		if code, body := f.webhook(e); code != http.StatusAccepted {
			t.Fatalf("webhook for %s: %d %s", e.ID, code, body)
		}
		if _, err := f.until(time.Until(deadline), func() bool { return f.revision(e.Slug) >= e.Revision }); err != nil {
			r.cells["change p50"], timedOut = fmt.Sprintf("%s (%d of %d changes)", err, k, c.changes), err.Error()
			break
		}
		end := time.Now()
		took = append(took, end.Sub(began))
		own = append(own, end.Sub(began)-busy(api.Requests(), began, end))
	}
	if len(took) > 0 {
		r.cells["change p50"], r.cells["change p99"] = ms(percentile(took, 50)), ms(percentile(took, 99))
		r.cells["p50 − API"], r.cells["p99 − API"] = ms(percentile(own, 50)), ms(percentile(own, 99))
		if len(took) < c.changes { // the phase timed out: say over how many
			r.cells["change p50"] += fmt.Sprintf(" (%d of %d; %s)", len(took), c.changes, timedOut)
		}
	}

	// Memory once the work has settled.
	r.cells["RSS peak"] = mib(f.peak())
	time.Sleep(3 * time.Second)
	r.cells["RSS after"] = mib(f.procStatus("VmRSS"))
	if m, _ := f.get("/metrics", ""); len(m) > 0 {
		if v, ok := metric(m, "go_memstats_heap_inuse_bytes"); ok {
			r.cells["heap after"] = mib(int64(v))
		}
	}
	if rds != nil {
		r.cells["Redis"] = redisSize(t, rds)
	}
	return r
}

// folio is one running folio process.
type folio struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	logs   *bytes.Buffer
	logsMu sync.Mutex
	done   chan struct{}
	began  time.Time
	killed chan string // why the RSS watch killed it
	client *http.Client
	hwm    atomic.Int64 // the last VmHWM the watch read, for after a kill
}

func startFolio(t *testing.T, c config, api string, rds *redistest.Server) *folio {
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	env := append(os.Environ(), "FOLIO_ADDR="+addr, "FOLIO_LOG_FORMAT=json", "CONTENTFUL_SPACE_ID="+space,
		"CONTENTFUL_ACCESS_TOKEN="+token, "CONTENTFUL_BASE_URL="+api, "CONTENTFUL_WEBHOOK_SECRET="+secret,
		"FOLIO_REFRESH_INTERVAL=0", "FOLIO_CDN_WAIT="+cdnWait.String())
	if rds != nil {
		env = append(env, "REDIS_URL="+rds.URL)
	}
	f := &folio{t: t, url: "http://" + addr, logs: &bytes.Buffer{}, done: make(chan struct{}), killed: make(chan string, 1),
		client: &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: time.Minute}}
	f.cmd = exec.Command(c.binary, "serve")
	f.cmd.Env = env
	f.cmd.Stdout, f.cmd.Stderr = f, f
	if dir := os.Getenv("SCALE_LOGS"); dir != "" { // every run's whole log, for a closer look
		lf, err := os.Create(filepath.Join(dir, fmt.Sprintf("folio-%s.log", strings.ReplaceAll(t.Name(), "/", "-"))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { lf.Close() })
		f.cmd.Stdout, f.cmd.Stderr = io.MultiWriter(f, lf), io.MultiWriter(f, lf)
	}
	f.began = time.Now()
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { f.cmd.Wait(); close(f.done) }()
	go f.watch(c.maxRSS)
	return f
}

// Write keeps the process's log, for failures.
func (f *folio) Write(p []byte) (int, error) {
	f.logsMu.Lock()
	defer f.logsMu.Unlock()
	if f.logs.Len() > 1<<20 {
		f.logs.Reset()
	}
	return f.logs.Write(p)
}

// watch kills folio when its RSS passes limit, so one size cannot take the
// machine down.
func (f *folio) watch(limit int64) {
	for {
		select {
		case <-f.done:
			return
		case <-time.After(50 * time.Millisecond):
		}
		f.hwm.Store(max(f.hwm.Load(), f.procStatus("VmHWM")))
		if rss := f.procStatus("VmRSS"); rss > limit {
			f.killed <- fmt.Sprintf("killed: RSS %s > limit after %s", mib(rss), time.Since(f.began).Round(time.Second))
			f.cmd.Process.Kill()
			return
		}
	}
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

// until polls cond every 2 ms for at most limit and returns how long since
// the process started it took; the error says why it gave up.
func (f *folio) until(limit time.Duration, cond func() bool) (time.Duration, error) {
	began := time.Now()
	for time.Since(began) < limit {
		select {
		case why := <-f.killed:
			return 0, fmt.Errorf("%s", why)
		case <-f.done:
			select {
			case why := <-f.killed: // the watch killed it
				return 0, fmt.Errorf("%s", why)
			default:
			}
			f.logsMu.Lock()
			f.t.Logf("folio exited:\n%s", tail(f.logs.String(), 20))
			f.logsMu.Unlock()
			return 0, fmt.Errorf("folio exited after %s", time.Since(f.began).Round(time.Second))
		default:
		}
		if cond() {
			return time.Since(f.began), nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("timeout after %s", limit.Round(time.Second))
}

// cdnWait is FOLIO_CDN_WAIT in these runs: the local Delivery API does not
// lag, and a short bound lets a new leader's second catch-up (at the bound)
// be over before the changes are measured.
const cdnWait = 10 * time.Second

// caughtUp reports whether the leader's catch-up after the lag bound is
// over: /status lists it as done.
func (f *folio) caughtUp() bool {
	b, code := f.get("/status", "")
	if code != 200 {
		return false
	}
	var doc struct {
		Events []struct{ Topic, Outcome string }
	}
	if json.Unmarshal(b, &doc) != nil {
		return false
	}
	for _, e := range doc.Events {
		if e.Topic == "leader-catch-up-after-lag" && e.Outcome == "done" {
			return true
		}
	}
	return false
}

func (f *folio) status(path string) int {
	res, err := f.client.Get(f.url + path)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// get returns a body as sent, with Accept-Encoding enc ("" for identity).
func (f *folio) get(path, enc string) ([]byte, int) {
	req, _ := http.NewRequest("GET", f.url+path, nil)
	if enc != "" {
		req.Header.Set("Accept-Encoding", enc)
	}
	res, err := f.client.Do(req)
	if err != nil {
		return nil, 0
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return b, res.StatusCode
}

// revisionRE finds an entry's top-level revision: folio writes it before
// the fields, so the first occurrence is the post's own.
var revisionRE = regexp.MustCompile(`"revision":\s*(\d+)`)

// revision returns the revision /blog/{slug} serves, reading only the
// beginning of the answer; 0 when there is none.
func (f *folio) revision(slug string) int {
	res, err := f.client.Get(f.url + "/blog/" + slug)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	head := make([]byte, 2048)
	n, _ := io.ReadFull(res.Body, head)
	m := revisionRE.FindSubmatch(head[:n])
	if res.StatusCode != 200 || m == nil {
		return 0
	}
	v, _ := strconv.Atoi(string(m[1]))
	return v
}

// webhook sends Contentful's signed publish webhook for an edit.
func (f *folio) webhook(e spacegen.Edit) (int, string) {
	topic := contentful.Topic{Kind: "Entry", Action: contentful.Publish}
	now := time.Now()
	body := contentful.WebhookBody(topic, contentful.Change{Kind: "Entry", ID: e.ID, ContentType: e.ContentType,
		Revision: e.Revision, Space: space, Environment: "master"}, now)
	req, _ := http.NewRequest("POST", f.url+"/webhooks/contentful", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
	req.Header.Set("X-Contentful-Topic", topic.String())
	auth.Sign(req, body, secret, now, "X-Contentful-Topic")
	res, err := f.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// procStatus returns a kB figure of /proc/<pid>/status in bytes, 0 when the
// process is gone.
func (f *folio) procStatus(field string) int64 {
	file, err := os.Open(fmt.Sprintf("/proc/%d/status", f.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// peak returns VmHWM, the process's RSS high-water mark.
func (f *folio) peak() int64 { return max(f.hwm.Load(), f.procStatus("VmHWM")) }

// busy returns how long the API was answering requests between from and to:
// the union of the requests' handler intervals, so concurrent requests are
// counted once.
func busy(reqs []localapi.Request, from, to time.Time) time.Duration {
	type span struct{ a, b time.Time }
	var spans []span
	for _, r := range reqs {
		a, b := r.Start, r.Start.Add(r.Duration)
		if r.Duration == 0 { // still running
			b = to
		}
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.After(a) {
			spans = append(spans, span{a, b})
		}
	}
	slices.SortFunc(spans, func(x, y span) int { return x.a.Compare(y.a) })
	var total time.Duration
	var end time.Time
	for _, s := range spans {
		if s.a.After(end) {
			end = s.a
		}
		if s.b.After(end) {
			total += s.b.Sub(end)
			end = s.b
		}
	}
	return total
}

func sumBytes(reqs []localapi.Request) int {
	n := 0
	for _, r := range reqs {
		n += r.Bytes
	}
	return n
}

// redisSize sums MEMORY USAGE over every key, and STRLEN over the strings.
func redisSize(t *testing.T, rds *redistest.Server) string {
	keys := strings.Fields(rds.Do(t, "KEYS", "*"))
	var usage, strlen int64
	for _, k := range keys {
		u, _ := strconv.ParseInt(rds.Do(t, "MEMORY", "USAGE", k), 10, 64)
		usage += u
		if rds.Do(t, "TYPE", k) == "string" {
			n, _ := strconv.ParseInt(rds.Do(t, "STRLEN", k), 10, 64)
			strlen += n
		}
	}
	return fmt.Sprintf("%s (strings %s, %d keys)", size(int(usage)), size(int(strlen)), len(keys))
}

// metric reads one unlabelled value from a Prometheus text exposition.
func metric(text []byte, name string) (float64, bool) {
	for line := range strings.SplitSeq(string(text), "\n") {
		if rest, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000)
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

func mib(b int64) string {
	if b == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func formatRow(r row) string {
	cells := []string{strconv.Itoa(r.posts), r.mode}
	for _, c := range columns {
		v := r.cells[c]
		if v == "" {
			v = "-"
		}
		cells = append(cells, v)
	}
	return "| " + strings.Join(cells, " | ") + " |"
}

// table prints the rows as a Markdown table.
func table(rows []row) string {
	var b strings.Builder
	head := append([]string{"posts", "store"}, columns...)
	b.WriteString("| " + strings.Join(head, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(head)) + "\n")
	for _, r := range rows {
		b.WriteString(formatRow(r) + "\n")
	}
	return b.String()
}
