package localapi

import (
	"bytes"
	"slices"
	"testing"
	"time"
)

func TestRequestsAndDeterminism(t *testing.T) {
	s, ts := fixtureServer(t)
	first := get(t, ts, entries+"?include=2&order=-sys.updatedAt")
	second := get(t, ts, entries+"?include=2&order=-sys.updatedAt")
	if !bytes.Equal(first.body, second.body) {
		t.Errorf("same query, different answers")
	}
	get(t, ts, entries+"?limit=2000")

	reqs := s.Requests()
	if len(reqs) != 3 || reqs[0].Path != entries || reqs[0].Query.Get("include") != "2" ||
		reqs[0].Status != 200 || reqs[2].Status != 400 {
		t.Fatalf("Requests() = %+v", reqs)
	}
	reqs[0].Query.Set("include", "9")
	if s.Requests()[0].Query.Get("include") != "2" {
		t.Errorf("Requests() exposes internal state")
	}
	if n := s.Count(func(r Request) bool { return r.Status == 400 }); n != 1 {
		t.Errorf("Count(400) = %d", n)
	}
	if n := s.Count(nil); n != 3 {
		t.Errorf("Count(nil) = %d", n)
	}
	s.Reset()
	if n := s.Count(nil); n != 0 {
		t.Errorf("after Reset: %d requests", n)
	}
	if c := getCollection(t, ts, entries); c.Total != 10 {
		t.Errorf("Reset dropped content: total %d", c.Total)
	}

	// Content put in another order gives byte-identical answers.
	other := New(testSpace, "master", testToken)
	for _, name := range []string{"entry_include_resolution.json", "entries.json"} {
		_, c := fixtureBody(t, name)
		raws := entitiesOf(c)
		slices.Reverse(raws)
		if err := other.Put(raws...); err != nil {
			t.Fatal(err)
		}
	}
	if r := get(t, start(t, other), entries+"?include=2&order=-sys.updatedAt"); !bytes.Equal(r.body, first.body) {
		t.Errorf("answer depends on insertion order")
	}
}

func TestRequestTiming(t *testing.T) {
	s, ts := fixtureServer(t)
	s.SetDelay(20 * time.Millisecond)
	before := time.Now()
	r := get(t, ts, entries+"?include=2")
	after := time.Now()
	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	q := reqs[0]
	if q.Start.Before(before) || q.Start.After(after) {
		t.Errorf("Start %v outside [%v, %v]", q.Start, before, after)
	}
	if q.Duration < 20*time.Millisecond || q.Start.Add(q.Duration).After(after) {
		t.Errorf("Duration %v: want the delay and no more than the client waited (%v)", q.Duration, after.Sub(before))
	}
	if q.Bytes != len(r.body) {
		t.Errorf("Bytes %d, body %d", q.Bytes, len(r.body))
	}
}
