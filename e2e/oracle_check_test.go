package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// violation is one broken invariant.
type violation struct {
	class   string // stale-final, revision-regress, failed-event, last-modified-backwards, webhook-undelivered
	replica string
	at      time.Duration // since the sequence began
	detail  string
}

// The violation classes, in report order.
var violationClasses = []string{"stale-final", "revision-regress", "failed-event", "last-modified-backwards", "webhook-undelivered"}

// answer is one GET of a content route.
type answer struct {
	code         int
	body         []byte
	lastModified string
}

func (s *sequence) read(p *oproc, path string) (answer, error) {
	req, _ := http.NewRequest("GET", p.URL+path, nil)
	req.Header.Set("Accept-Encoding", "identity")
	res, err := s.lane.client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{res.StatusCode, b, res.Header.Get("Last-Modified")}, nil
}

// seenRev is the highest revision a replica served of one incarnation of
// an entity in one collection, since the entity last vanished from it.
type seenRev struct {
	incarnation string
	revision    int
	route       string
	at          time.Duration
}

type seenLM struct {
	modified time.Time
	raw      string
	hash     [32]byte
}

// observer polls every replica's content routes during a sequence and checks
// the continuous invariants: per (replica, collection, entity) revisions
// never go down (unless the entity vanished from that collection or was
// re-created in between), and per (replica, route) Last-Modified never goes
// back while the bytes change.
type observer struct {
	s    *sequence
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	revs  map[string]map[string]*seenRev // replica+"|"+collection → entity → seen
	lms   map[string]*seenLM             // replica+"|"+route
	reads int
}

func newObserver(s *sequence) *observer {
	return &observer{s: s, stop: make(chan struct{}), done: make(chan struct{}),
		revs: map[string]map[string]*seenRev{}, lms: map[string]*seenLM{}}
}

func (o *observer) run() {
	defer close(o.done)
	slugs := oracleSlugs()
	for i := 0; ; i++ {
		select {
		case <-o.stop:
			return
		default:
		}
		for _, p := range o.s.live() {
			for _, path := range []string{"/cv", "/blog", "/blog/" + slugs[i%len(slugs)]} {
				o.observe(p, path)
			}
		}
		time.Sleep(15 * time.Millisecond)
	}
}

func (o *observer) halt() {
	close(o.stop)
	<-o.done
}

// observe reads one route of one replica and checks it.
func (o *observer) observe(p *oproc, path string) {
	a, err := o.s.read(p, path)
	if err != nil {
		return // a process being restarted or killed
	}
	o.check(p.name, path, a)
}

func (o *observer) check(replica, path string, a answer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reads++
	at := o.s.since()
	collection := "blog"
	if path == "/cv" {
		collection = "cv"
	}
	// A post that answers 404 has vanished from the blog; a 503 says
	// nothing (not loaded yet).
	if a.code == http.StatusNotFound && strings.HasPrefix(path, "/blog/") {
		revs := o.revs[replica+"|blog"]
		for key := range revs {
			if postSlugOf(key, path) {
				delete(revs, key)
			}
		}
		return
	}
	if a.code != http.StatusOK {
		return
	}
	if lm, err := http.ParseTime(a.lastModified); err == nil {
		k := replica + "|" + path
		h := sha256.Sum256(a.body)
		if prev := o.lms[k]; prev != nil && prev.hash != h && lm.Before(prev.modified) {
			o.s.violate(violation{"last-modified-backwards", replica, at, fmt.Sprintf(
				"%s: the bytes changed and Last-Modified went from %s to %s", path, prev.raw, a.lastModified)})
		}
		o.lms[k] = &seenLM{lm, a.lastModified, h}
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(a.body))
	dec.UseNumber()
	if dec.Decode(&doc) != nil {
		o.s.violate(violation{"stale-final", replica, at, path + " answered 200 with invalid JSON"})
		return
	}
	found := map[string]seenRev{}
	walkEntities(doc, func(key, inc string, rev int) {
		if f, ok := found[key]; ok && (f.incarnation != inc || f.revision != rev) {
			o.s.violate(violation{"revision-regress", replica, at, fmt.Sprintf(
				"%s holds %s both at revision %d (createdAt %s) and %d (createdAt %s)", path, key, f.revision, f.incarnation, rev, inc)})
		}
		found[key] = seenRev{inc, rev, path, at}
	})
	revs := o.revs[replica+"|"+collection]
	if revs == nil {
		revs = map[string]*seenRev{}
		o.revs[replica+"|"+collection] = revs
	}
	for key, f := range found {
		prev := revs[key]
		switch {
		case prev == nil:
		case f.incarnation < prev.incarnation:
			o.s.violate(violation{"revision-regress", replica, at, fmt.Sprintf(
				"%s: %s went back to an older incarnation: createdAt %s revision %d, after createdAt %s revision %d (on %s at %v) without vanishing in between",
				path, key, f.incarnation, f.revision, prev.incarnation, prev.revision, prev.route, prev.at.Round(time.Millisecond))})
		case f.incarnation == prev.incarnation && f.revision < prev.revision:
			o.s.violate(violation{"revision-regress", replica, at, fmt.Sprintf(
				"%s: %s at revision %d after revision %d (on %s at %v), same createdAt %s, without vanishing in between",
				path, key, f.revision, prev.revision, prev.route, prev.at.Round(time.Millisecond), f.incarnation)})
		case f.incarnation == prev.incarnation && f.revision == prev.revision:
			continue
		}
		v := f
		revs[key] = &v
	}
	// /cv and /blog show their whole collection: what they lack vanished.
	if path == "/cv" || path == "/blog" {
		for key := range revs {
			if _, ok := found[key]; !ok {
				delete(revs, key)
			}
		}
	}
}

// postSlugOf reports whether entity key is the post that a /blog/{slug}
// path addresses (slugs are the post's id, or id+"-b").
func postSlugOf(key, path string) bool {
	slug := strings.TrimPrefix(path, "/blog/")
	return key == "Entry:"+strings.TrimSuffix(slug, "-b")
}

// walkEntities calls visit for every entry and asset in folio's JSON: entries
// by their id, revision and createdAt; assets by the incarnation and
// revision the oracle writes into their title.
func walkEntities(v any, visit func(key, incarnation string, revision int)) {
	switch t := v.(type) {
	case map[string]any:
		if id, ok := t["id"].(string); ok {
			if rev, ok := t["revision"].(json.Number); ok {
				n, _ := strconv.Atoi(rev.String())
				created, _ := t["createdAt"].(string)
				visit("Entry:"+id, created, n)
			} else if title, ok := t["title"].(string); ok && t["url"] != nil {
				if parts := strings.Split(title, "|"); len(parts) == 3 && parts[0] == id {
					n, _ := strconv.Atoi(parts[2])
					visit("Asset:"+id, parts[1], n)
				}
			}
		}
		for _, x := range t {
			walkEntities(x, visit)
		}
	case []any:
		for _, x := range t {
			walkEntities(x, visit)
		}
	}
}

// contentRoutes are the routes the end of a sequence compares.
func contentRoutes() []string {
	out := []string{"/cv", "/blog"}
	for _, s := range oracleSlugs() {
		out = append(out, "/blog/"+s)
	}
	return out
}

// reference starts a fresh memory-only folio on the settled Delivery API
// and returns what it serves on every content route.
func (s *sequence) reference() (map[string]answer, error) {
	p, err := s.lane.startFolio(s, s.apiURL, "")
	if err != nil {
		return nil, err
	}
	defer p.stop()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if a, err := s.read(p, "/readyz"); err == nil && a.code == 200 {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the reference folio never became ready:\n%s", tail(p.logs.String(), 20))
		}
		time.Sleep(10 * time.Millisecond)
	}
	out := map[string]answer{}
	for _, r := range contentRoutes() {
		a, err := s.read(p, r)
		if err != nil {
			return nil, err
		}
		out[r] = a
	}
	return out, nil
}

// differs returns the first route where p does not serve want, or "".
func (s *sequence) differs(p *oproc, want map[string]answer) string {
	for _, r := range contentRoutes() {
		a, err := s.read(p, r)
		if err != nil {
			return fmt.Sprintf("%s: %v", r, err)
		}
		if a.code != want[r].code || !bytes.Equal(a.body, want[r].body) {
			return fmt.Sprintf("%s: serves %d %.400s\n      a fresh build serves %d %.400s", r, a.code, a.body, want[r].code, want[r].body)
		}
	}
	return ""
}

// eventRecord is one line of /status's events or dead letters.
type eventRecord struct {
	ID       string `json:"id"`
	Topic    string `json:"topic"`
	Action   string `json:"action"`
	Entity   string `json:"entity"`
	Revision int    `json:"revision"`
	Outcome  string `json:"outcome"`
	Error    string `json:"error"`
}

func (s *sequence) eventLog(p *oproc) ([]eventRecord, error) {
	a, err := s.read(p, "/status")
	if err != nil {
		return nil, err
	}
	var st struct {
		Events      []eventRecord `json:"events"`
		DeadLetters []eventRecord `json:"deadLetters"`
	}
	if err := json.Unmarshal(a.body, &st); err != nil {
		return nil, err
	}
	return append(st.Events, st.DeadLetters...), nil
}

// checkEvents waits (within limit) until every replica's events are final,
// then flags each failed or dead event whose change the final content
// (want, the fresh build) reflects.
func (s *sequence) checkEvents(limit time.Duration, want map[string]answer) {
	holds := map[string]seenRev{}
	for _, r := range []string{"/cv", "/blog"} {
		var doc any
		dec := json.NewDecoder(bytes.NewReader(want[r].body))
		dec.UseNumber()
		dec.Decode(&doc)
		walkEntities(doc, func(key, inc string, rev int) { holds[key] = seenRev{incarnation: inc, revision: rev} })
	}
	deadline := time.Now().Add(limit)
	var all map[string][]eventRecord
	for {
		all = map[string][]eventRecord{}
		pending := false
		for _, p := range s.live() {
			evs, err := s.eventLog(p)
			if err != nil {
				continue
			}
			all[p.name] = evs
			for _, e := range evs {
				if e.Outcome == "pending" || e.Outcome == "retrying" {
					pending = true
				}
			}
		}
		if !pending || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for replica, evs := range all {
		seen := map[string]bool{}
		for _, e := range evs {
			if (e.Outcome != "failed" && e.Outcome != "dead") || seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			if ok, why := s.ed.reflects(e.Entity, e.Action, e.Revision, holds); ok {
				s.violate(violation{"failed-event", replica, s.since(), fmt.Sprintf(
					"event %s (%s %s revision %d) is %s (%s), but %s", e.ID, e.Action, e.Entity, e.Revision, e.Outcome, e.Error, why)})
			}
		}
	}
}
