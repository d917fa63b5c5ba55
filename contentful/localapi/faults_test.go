package localapi

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"
)

func TestFaults(t *testing.T) {
	s, ts := fixtureServer(t)
	rl := readFixture(t, "ratelimit.json")[0]
	var fixtureErr errorBody
	if err := json.Unmarshal(rl.Response.Body, &fixtureErr); err != nil {
		t.Fatal(err)
	}

	s.Script(Fault{Status: 429, Reset: 7}, Fault{Status: 503}, Fault{}, Fault{Status: 500})
	r := get(t, ts, entries)
	e := wantError(t, "429 fault", r, http.StatusTooManyRequests, "RateLimitExceeded")
	if r.header.Get("X-Contentful-RateLimit-Reset") != "7" {
		t.Errorf("X-Contentful-RateLimit-Reset %q", r.header.Get("X-Contentful-RateLimit-Reset"))
	}
	if e.Sys != fixtureErr.Sys || e.Message != fixtureErr.Message {
		t.Errorf("429 body %s, fixture %s", r.body, rl.Response.Body)
	}
	if k, wk := topKeys(t, r.body), topKeys(t, rl.Response.Body); !slices.Equal(k, wk) {
		t.Errorf("429 keys %v, fixture %v", k, wk)
	}
	wantError(t, "503 fault", get(t, ts, entries), http.StatusServiceUnavailable, "ServiceUnavailable")
	getCollection(t, ts, entries) // the zero Fault answers normally
	wantError(t, "500 fault", get(t, ts, entries+"/nyancat"), http.StatusInternalServerError, "ServerError")
	getCollection(t, ts, entries) // queue empty

	// Faults come before authentication and only on entries endpoints.
	s.Script(Fault{Status: 429})
	getCollection(t, ts, assets)
	r, _ = fetch(context.Background(), ts, http.MethodGet, entries, "")
	wantError(t, "429 without token", r, http.StatusTooManyRequests, "RateLimitExceeded")

	s.Script(Fault{Malformed: true}, Fault{Malformed: true, Status: 502})
	for _, status := range []int{200, 502} {
		r := get(t, ts, entries)
		if r.status != status || json.Valid(r.body) || len(r.body) == 0 || r.header.Get("Content-Type") != deliveryContentType {
			t.Errorf("malformed fault: status %d (want %d), body %q", r.status, status, r.body)
		}
	}
	getCollection(t, ts, entries)
}

func TestDelay(t *testing.T) {
	s, ts := fixtureServer(t)
	waitStatus := func(i, want int) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			reqs := s.Requests()
			if len(reqs) > i && reqs[i].Status == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("request %d: status never became %d: %+v", i, want, reqs)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	cancelled := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if _, err := fetch(ctx, ts, http.MethodGet, entries, testToken); err == nil {
			t.Errorf("%s: request succeeded despite cancellation", what)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: cancellation took %v", what, d)
		}
	}

	s.SetDelay(time.Minute)
	cancelled("SetDelay")
	waitStatus(0, statusClientClosed) // the handler gave up too

	s.SetDelay(30 * time.Millisecond)
	start := time.Now()
	getCollection(t, ts, entries)
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("SetDelay(30ms): answered in %v", d)
	}
	s.SetDelay(0)

	s.Script(Fault{Delay: time.Minute})
	cancelled("Fault.Delay")
	waitStatus(2, statusClientClosed)
	getCollection(t, ts, entries) // the fault was consumed

	s.Script(Fault{Delay: 30 * time.Millisecond, Status: 503})
	start = time.Now()
	wantError(t, "delayed 503", get(t, ts, entries), http.StatusServiceUnavailable, "ServiceUnavailable")
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("Fault.Delay 30ms: answered in %v", d)
	}
}
