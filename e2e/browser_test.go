package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/contentful"
)

// chromium is Debian's Chromium, which scripts/test-deps.sh installs.
const chromium = "chromium"

// browserTZ is the browser's time zone: half an hour off UTC's hours.
const browserTZ = "Asia/Kolkata"

// artifacts is where the browser test leaves its screenshot: the directory
// FOLIO_ARTIFACTS names, else bench/out/browser (gitignored).
func artifacts(t *testing.T) string {
	dir := os.Getenv("FOLIO_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "bench", "out", "browser")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startDemo runs the folio binary in demo mode (an empty
// CONTENTFUL_SPACE_ID: the built-in sample space, served with e2e's
// signing secret) and waits until it is ready.
func startDemo(t *testing.T) *folio {
	t.Helper()
	f := start(t, "", "", "CONTENTFUL_SPACE_ID=", "FOLIO_CV_TYPES=profile,experience,education,skill,project")
	f.until("ready", 10*time.Second, func() bool { return f.status("/readyz") == 200 })
	return f
}

// TestDashboardInABrowser drives the dashboard in Debian's Chromium over
// the DevTools protocol against the real binary in demo mode: the test
// bench edits a post's title and publishes it; the page follows the
// signed webhook's event to done, the history table and both charts show
// it, the served post has the new title, and the page logged no error
// and threw no exception; a dead letter's replay dialog signs its call in
// the page. A screenshot is left in artifacts().
func TestDashboardInABrowser(t *testing.T) {
	exe, err := exec.LookPath(chromium)
	if err != nil {
		t.Fatalf("Chromium is not installed (%v): the dashboard's browser test needs Debian's chromium; "+
			"`make test` installs it, or run scripts/test-deps.sh (apt-get install chromium)", err)
	}
	os.Remove(filepath.Join(artifacts(t), "failure.png")) // an earlier run's
	f := startDemo(t)

	// India's clock is offset by half an hour, so the page's hours are not
	// UTC's; Chromium's own temporary files (its singleton socket) go in
	// the test's directory, which is removed.
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.Env("TZ="+browserTZ, "TMPDIR="+t.TempDir()),
		chromedp.ExecPath(exe), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
		chromedp.Headless, chromedp.NoSandbox, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancelRun := context.WithTimeout(ctx, 60*time.Second)
	defer cancelRun()

	// Every console call of the page, exception it did not catch and entry
	// of the browser's log (a failed request) at warning or above.
	var mu sync.Mutex
	var problems []string
	listening, stopListening := context.WithCancel(ctx)
	messages := chromedp.Console(listening)
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for m, err := range messages {
			if err != nil {
				return // the test is over
			}
			// The replay of a made-up dead letter below fails on purpose
			// (401, then 404), and the browser logs each failed request.
			expected := m.Source == "network" && strings.Contains(m.URL, "/admin/dead-letters/evt_made_up/replay")
			if (m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException()) && !expected {
				mu.Lock()
				problems = append(problems, m.String()+" "+m.URL)
				mu.Unlock()
			}
		}
	}()

	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			// What the page showed, for the failure's artefact.
			shot, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if png, err := chromedp.Run(shot, chromedp.FullScreenshot(100)); err == nil {
				os.WriteFile(filepath.Join(artifacts(t), "failure.png"), png, 0o644)
			}
			mu.Lock()
			defer mu.Unlock()
			banner, _ := chromedp.Run(shot, chromedp.Evaluate[string](`document.getElementById('banner').textContent`))
			t.Fatalf("%s: %v\nthe page's banner: %s\nthe page's console:\n%s\nfolio's log:\n%s", what, err, banner, strings.Join(problems, "\n"), tail(f.logs.String(), 30))
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}

	script := func(js string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
			return err
		})
	}

	const title = "Retries, revisited in a browser"
	titleField := chromedp.CSS(`#b-fields input[data-field="title"]`)
	do("open the dashboard", chromedp.Navigate(f.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#b-entry`)), chromedp.WaitReady(chromedp.CSS(`#b-entry option[value="post-retries"]`)))
	do("pick and edit a post",
		chromedp.SetValue(chromedp.CSS(`#b-entry`), "post-retries"),
		script(`document.getElementById('b-entry').dispatchEvent(new Event('change'))`),
		// Typed over the whole old title, as a user selecting it does.
		chromedp.WaitVisible(titleField), script(`document.querySelector('#b-fields input[data-field="title"]').select()`),
		chromedp.SendKeys(titleField, title))
	do("publish and follow the event", chromedp.Click(chromedp.CSS(`#b-publish`)),
		chromedp.WaitVisible(chromedp.CSS(`#b-flow li[data-step="served"][data-state="ok"]`)))
	eventID, served := text(`#b-flow [data-event]`), text(`#b-flow q[data-served="title"]`)
	if !strings.HasPrefix(eventID, "evt_") || served != title {
		t.Fatalf("the bench shows event %q serving title %q", eventID, served)
	}
	do("the history shows the event", chromedp.WaitVisible(chromedp.CSS(`#events tr[data-id="`+eventID+`"]`)),
		chromedp.WaitReady(chromedp.CSS(`#latency circle[data-id="`+eventID+`"][data-outcome="done"]`)))
	if outcome := text(`#events tr[data-id="` + eventID + `"] td.outcome`); outcome != "done" {
		t.Errorf("the event's outcome in the table: %q", outcome)
	}
	bars, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`JSON.stringify([...document.querySelectorAll('#hourly rect[data-outcome="done"]')].map(r => r.dataset))`))
	if err != nil {
		t.Fatal(err)
	}
	var hours []struct{ Hour, Count string }
	json.Unmarshal([]byte(bars), &hours)
	zone, err := time.LoadLocation(browserTZ)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(zone)
	thisHour := time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), 0, 0, 0, zone)
	found := false
	for _, h := range hours {
		at, _ := time.Parse(time.RFC3339, h.Hour)
		n, _ := strconv.Atoi(h.Count)
		if at.In(zone).Minute() != 0 {
			t.Errorf("a bar of the hourly chart begins at %s, not at an hour of the browser's clock (%s)", at.In(zone), browserTZ)
		}
		// The event is in this hour or, when the hour turned meanwhile,
		// the one before.
		found = found || (n >= 1 && !at.After(thisHour) && at.After(thisHour.Add(-2*time.Hour)))
	}
	if !found {
		t.Errorf("no bar of done events for this hour in the hourly chart: %s", bars)
	}
	// An event still running (a post the demo's Delivery API never
	// serves at that revision) shows no duration: its record says 0 ms.
	t0 := contentful.Topic{Kind: "Entry", Action: contentful.Publish}
	hook := contentful.WebhookBody(t0, contentful.Change{Kind: "Entry", ID: "post-never-published", ContentType: "blogPost",
		Revision: 2, Space: "folio-demo", Environment: "master"}, time.Now())
	req, _ := http.NewRequest(http.MethodPost, f.URL+"/webhooks/contentful", bytes.NewReader(hook))
	signed := contentful.SetWebhookHeaders(req.Header, t0, "browser test")
	auth.Sign(req, hook, secret, time.Now(), signed...)
	code, answered := send(req)
	var accepted struct{ EventID string }
	if json.Unmarshal([]byte(answered), &accepted); code != http.StatusAccepted || accepted.EventID == "" {
		t.Fatalf("webhook: %d %s", code, answered)
	}
	row := `#events tr[data-id="` + accepted.EventID + `"]`
	do("the history shows the running event", chromedp.Click(chromedp.CSS(`#refresh`)), chromedp.WaitVisible(chromedp.CSS(row)))
	outcome, took := text(row+` td.outcome`), text(row+` td:nth-child(8)`) // the Duration column
	if (outcome != "pending" && outcome != "retrying") || took != "—" {
		t.Errorf("a running event shows outcome %q and duration %q", outcome, took)
	}

	var post struct{ Fields struct{ Title string } }
	code, body := f.get("/blog/a-year-of-retries")
	if json.Unmarshal([]byte(body), &post); code != 200 || post.Fields.Title != title {
		t.Errorf("folio serves %d %q", code, body)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(artifacts(t), "dashboard.png")
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", out)

	// A replay from the dead letters: the dialog asks for what /status says
	// the admin API takes (demo mode: the signing secret), signs the call in
	// the page, and shows folio's answer. The button is one the table would
	// render for a dead letter (demo mode makes none): a wrong secret is
	// refused, the right one passes authentication and finds no such dead
	// letter.
	answer := func(want string) {
		t.Helper()
		var got string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got = text(`#replay-answer`); strings.Contains(got, want) {
				return
			}
		}
		t.Fatalf("the replay dialog answered %q, want %q", got, want)
	}
	secretField := chromedp.CSS(`#replay-secret`)
	do("open the replay dialog", script(`const b = document.createElement('button');
		b.setAttribute('data-replay', 'evt_made_up'); document.getElementById('dead').append(b); b.click()`),
		chromedp.WaitVisible(secretField), chromedp.SendKeys(secretField, "not-the-secret"), chromedp.Click(chromedp.CSS(`#replay-send`)))
	answer("HTTP 401 signature_mismatch")
	do("replay with the signing secret", script(`document.getElementById('replay-secret').select()`),
		chromedp.SendKeys(secretField, secret), chromedp.Click(chromedp.CSS(`#replay-send`)))
	answer("HTTP 404 dead_letter_not_found")
	do("close the dialog", chromedp.Click(chromedp.CSS(`#replay-close`)), chromedp.WaitNotVisible(secretField))
	if left, err := chromedp.Run(ctx, chromedp.Value(secretField)); err != nil || left != "" {
		t.Errorf("the closed dialog kept the secret: %q %v", left, err)
	}

	// render() catches its own exceptions and shows them in the banner,
	// not the console: a page that broke on a later poll shows one.
	if banner, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('banner').hidden ? '' : document.getElementById('banner').textContent`)); err != nil || banner != "" {
		t.Errorf("the page shows a problem: %q %v", banner, err)
	}

	stopListening()
	<-collected
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page logged errors or threw:\n%s", strings.Join(problems, "\n"))
	}
}
