package main

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/internal/logbuf"
)

// TestDemoBenchReachesServedContent: the test bench's publish changes the
// demo's Delivery API, its signed webhook is accepted by folio's own route
// (under a public path prefix too, which the signature must name), and the
// event ends done with the new title served.
func TestDemoBenchReachesServedContent(t *testing.T) {
	for _, public := range []string{"", "https://example.com/folio"} {
		t.Run("public="+public, func(t *testing.T) {
			env := map[string]string{}
			if public != "" {
				env["FOLIO_PUBLIC_URL"] = public
			}
			addr, logs := runDemo(t, env)
			base := "http://" + addr

			res, err := http.Post(base+"/demo/entries/post-retries/publish", "application/json",
				strings.NewReader(`{"fields":{"title":"Retries, revisited"}}`))
			if err != nil {
				t.Fatal(err)
			}
			var out struct {
				Entry   struct{ Path string }
				Webhook struct {
					Status  int
					EventID string
				}
			}
			json.NewDecoder(res.Body).Decode(&out)
			res.Body.Close()
			if res.StatusCode != 200 || out.Webhook.Status != 202 || out.Webhook.EventID == "" || out.Entry.Path != "/blog/a-year-of-retries" {
				t.Fatalf("publish: %s %+v\n%s", res.Status, out, logs)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				var h struct {
					Events []struct{ ID, Outcome string }
				}
				getJSON(t, base+"/status/history", &h)
				if len(h.Events) > 0 && h.Events[0].ID == out.Webhook.EventID && h.Events[0].Outcome == "done" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the bench's event never ended done: %+v", h.Events)
				}
			}
			var post struct{ Fields struct{ Title string } }
			getJSON(t, base+out.Entry.Path, &post)
			if post.Fields.Title != "Retries, revisited" {
				t.Errorf("served title %q", post.Fields.Title)
			}
		})
	}
}

// runDemo runs folio in demo mode on a free loopback port, with env
// added to the environment, until the test ends, and waits until it is
// ready. It returns the address folio listens on, and its JSON log.
func runDemo(t *testing.T, env map[string]string) (string, *logbuf.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logbuf.Buffer{}
	done := make(chan error, 1)
	all := map[string]string{"FOLIO_ADDR": "127.0.0.1:0", "FOLIO_LOG_FORMAT": "json"}
	maps.Copy(all, env)
	go func() { done <- run(ctx, []string{"serve"}, envOf(all), io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	addr := listenAddr(t, logs, done)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return addr, logs
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo never became ready:\n%s", logs)
		}
	}
}
