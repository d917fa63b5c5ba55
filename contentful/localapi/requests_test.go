package localapi

import (
	"bytes"
	"slices"
	"testing"
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
