package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/contentful/localapi"
	"github.com/folio-cms/folio/internal/redistest"
)

// historyDoc is GET /status/history, its records kept as sent.
type historyDoc struct {
	Source    string
	Retention struct {
		Events        int
		MaxAgeSeconds int64
	}
	Events, DeadLetters []json.RawMessage
}

// record is what the test reads of a record.
type record struct {
	ID, Outcome, Topic string
	Entity             string
	Replays            int
}

func (f *folio) history() (historyDoc, string) {
	var h historyDoc
	_, body := f.get("/status/history")
	json.Unmarshal([]byte(body), &h)
	return h, body
}

// byID indexes records by id.
func byID(rs []json.RawMessage) map[string]record {
	out := map[string]record{}
	for _, raw := range rs {
		var r record
		json.Unmarshal(raw, &r)
		out[r.ID] = r
	}
	return out
}

// admin makes an admin call signed with the webhook's secret.
func (f *folio) admin(method, path string) (int, string) {
	req, _ := http.NewRequest(method, f.URL+path, http.NoBody)
	auth.Sign(req, nil, secret, time.Now())
	return send(req)
}

// statusLists are /status's events and dead letters, as sent.
func (f *folio) statusLists() string {
	var st struct{ Events, DeadLetters json.RawMessage }
	_, body := f.get("/status")
	json.Unmarshal([]byte(body), &st)
	return string(st.Events) + string(st.DeadLetters)
}

// sameHistory waits until every replica answers /status/history, /status's
// lists and /admin/dead-letters alike, from Redis, with cond holding, and
// returns the history.
func sameHistory(t *testing.T, what string, cond func(historyDoc) bool, fs ...*folio) historyDoc {
	t.Helper()
	var h historyDoc
	fs[0].until(what+", alike on every replica", 30*time.Second, func() bool {
		var first, status, dead string
		for i, f := range fs {
			doc, body := f.history()
			code, dl := f.admin("GET", "/admin/dead-letters")
			if doc.Source != "redis" || code != 200 || !cond(doc) {
				return false
			}
			if i == 0 {
				h, first, status, dead = doc, body, f.statusLists(), dl
				continue
			}
			if body != first || f.statusLists() != status || dl != dead {
				return false
			}
		}
		return true
	})
	return h
}

// TestEventHistoryIsSharedAndSurvivesRestarts: two replicas on one Redis
// answer the same history (events done and dead, on /status/history,
// /status and /admin/dead-letters); restarting both, the leader first so
// that the lead changes, keeps it; a dead letter replayed from the follower
// is replayed once (the second replay, on the other replica, is 404), and
// its new outcome is what both read.
func TestEventHistoryIsSharedAndSurvivesRestarts(t *testing.T) {
	rds := redistest.Start(t)
	apiSrv, api := space(t)
	a, b := start(t, api, rds.URL), start(t, api, rds.URL)
	for _, f := range []*folio{a, b} {
		f.until("ready", 10*time.Second, func() bool { return f.status("/readyz") == 200 })
	}
	lead := leader(t, a, b)
	follower := a
	if follower == lead {
		follower = b
	}

	// A publish sent to the follower is done by the leader.
	if err := apiSrv.Put(post("p1", 2)); err != nil {
		t.Fatal(err)
	}
	if code, body := follower.webhook("p1", 2, contentful.Publish); code != 202 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	done := func(id string, o string) func(historyDoc) bool {
		return func(h historyDoc) bool {
			for _, r := range byID(h.Events) {
				if r.Entity == "Entry:"+id && r.Outcome == o {
					return true
				}
			}
			return false
		}
	}
	sameHistory(t, "p1's event done", done("p1", "done"), a, b)

	// A publish whose every fetch the Delivery API refuses (a 400 is not
	// retried inside the client) becomes a dead letter after 4 fetches;
	// then the faults left are used up, so the API answers again.
	if err := apiSrv.Put(post("p2", 2)); err != nil {
		t.Fatal(err)
	}
	apiSrv.Script(slices.Repeat([]localapi.Fault{{Status: http.StatusBadRequest}}, 40)...)
	if code, body := lead.webhook("p2", 2, contentful.Publish); code != 202 {
		t.Fatalf("webhook: %d %s", code, body)
	}
	before := sameHistory(t, "p2's event dead", func(h historyDoc) bool { return done("p2", "dead")(h) && len(h.DeadLetters) == 1 }, a, b)
	for {
		res, err := http.Get(api + "/spaces/s/environments/master/entries?limit=1&access_token=" + token)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == 200 {
			break
		}
	}
	dead := byID(before.DeadLetters)
	var deadID string
	for id := range dead {
		deadID = id
	}
	if before.Retention.Events != 1000 || before.Retention.MaxAgeSeconds != 7*24*3600 {
		t.Errorf("retention %+v", before.Retention)
	}

	// Restart both, the leader first: the follower leads, then a new
	// process once the old follower stops.
	lead.stop()
	leader(t, follower)
	c := start(t, api, rds.URL)
	follower.stop()
	leader(t, c)
	d := start(t, api, rds.URL)
	for _, f := range []*folio{c, d} {
		f.until("ready", 10*time.Second, func() bool { return f.status("/readyz") == 200 })
	}
	keeps := func(h historyDoc) bool {
		now := map[string]string{}
		for _, raw := range h.Events {
			var r record
			json.Unmarshal(raw, &r)
			now[r.ID] = string(raw)
		}
		for _, raw := range before.Events {
			var r record
			json.Unmarshal(raw, &r)
			if now[r.ID] != string(raw) {
				return false
			}
		}
		return slices.EqualFunc(h.DeadLetters, before.DeadLetters, func(x, y json.RawMessage) bool { return bytes.Equal(x, y) })
	}
	sameHistory(t, "the history from before the restarts", keeps, c, d)

	// Replay from the follower: once.
	lead, follower = c, d
	if code, body := follower.admin("POST", "/admin/dead-letters/"+deadID+"/replay"); code != 202 {
		t.Fatalf("replay from the follower: %d %s", code, body)
	}
	code, body := lead.admin("POST", "/admin/dead-letters/"+deadID+"/replay")
	if code != 404 || !bytes.Contains([]byte(body), []byte("dead_letter_not_found")) {
		t.Fatalf("second replay, on the leader: %d %s", code, body)
	}
	if code, body := follower.admin("POST", "/admin/dead-letters/"+deadID+"/replay"); code != 404 {
		t.Fatalf("second replay, on the follower: %d %s", code, body)
	}
	sameHistory(t, "the replay done", func(h historyDoc) bool {
		r := byID(h.Events)[deadID]
		return r.Outcome == "done" && r.Replays == 1 && len(h.DeadLetters) == 0
	}, c, d)
	for _, f := range []*folio{c, d} {
		f.until("p2 served", 10*time.Second, func() bool { return f.serves("p2", 2) })
	}
}
