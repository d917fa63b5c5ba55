package localapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
)

func TestLag(t *testing.T) {
	s, ts := fixtureServer(t)
	revision := func() string {
		t.Helper()
		c := getCollection(t, ts, entries+"?sys.id=nyancat")
		var e struct {
			Sys struct {
				Revision json.Number `json:"revision"`
			} `json:"sys"`
		}
		if len(c.Items) != 1 || json.Unmarshal(c.Items[0], &e) != nil {
			t.Fatalf("nyancat: %s", c.Items)
		}
		return e.Sys.Revision.String()
	}
	_, fx := fixtureBody(t, "entry_include_resolution.json")
	nyan := decode(t, fx.Items[0]).(map[string]any)
	if rev := nyan["sys"].(map[string]any)["revision"]; rev != json.Number("5") {
		t.Fatalf("fixture nyancat has revision %v, want 5", rev)
	}
	nyan["sys"].(map[string]any)["revision"] = 6
	updated, err := json.Marshal(nyan)
	if err != nil {
		t.Fatal(err)
	}

	if err := s.PutLagged(updated, entry("newcat", "cat", map[string]any{"name": "New"})); err != nil {
		t.Fatal(err)
	}
	s.DeleteLagged("finn")
	if err := s.PutLagged(json.RawMessage(`{"sys":{"type":"Entry"}}`)); err == nil {
		t.Error("PutLagged accepted an entry without id")
	}
	if got := revision(); got != "5" {
		t.Errorf("before ReleaseLag: revision %s, want the old 5", got)
	}
	if c := getCollection(t, ts, entries+"?sys.id[in]=finn,newcat"); !slices.Equal(ids(t, c.Items), []string{"finn"}) {
		t.Errorf("before ReleaseLag: %v, want only finn", ids(t, c.Items))
	}

	s.ReleaseLag()
	if got := revision(); got != "6" {
		t.Errorf("after ReleaseLag: revision %s, want 6", got)
	}
	if c := getCollection(t, ts, entries+"?sys.id[in]=finn,newcat"); !slices.Equal(ids(t, c.Items), []string{"newcat"}) {
		t.Errorf("after ReleaseLag: %v, want only newcat", ids(t, c.Items))
	}
	s.ReleaseLag() // nothing pending
	if c := getCollection(t, ts, entries); c.Total != 10 {
		t.Errorf("total %d, want 10", c.Total)
	}
}

func TestPutValidation(t *testing.T) {
	s := New("v", "", testToken)
	for _, bad := range []string{
		`not json`,
		`[]`,
		`{"fields":{}}`,
		`{"sys":{"type":"ContentType","id":"x"}}`,
		`{"sys":{"type":"Entry","id":""}}`,
		`{"sys":{"type":"Entry","id":"x"}}`,
		`{"sys":{"type":"Asset","id":"x"},"fields":[]}`,
		`{"sys":{"type":"Asset","id":"x"}} {}`,
	} {
		if err := s.Put(asset("ok"), json.RawMessage(bad)); err == nil {
			t.Errorf("Put accepted %s", bad)
		}
	}
	ts := start(t, s)
	base := "/spaces/v/environments/master/" // "" environment means master
	if c := getCollection(t, ts, base+"assets"); c.Total != 0 {
		t.Errorf("a failed Put stored %d assets", c.Total)
	}

	if err := s.Put(entry("x", "t", map[string]any{"v": 1}), asset("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(entry("x", "t", map[string]any{"v": 2})); err != nil { // replaces the entry only
		t.Fatal(err)
	}
	c := getCollection(t, ts, base+"entries")
	if c.Total != 1 || !bytes.Contains(c.Items[0], []byte(`"v":2`)) {
		t.Errorf("replace: %s", c.Items)
	}
	for _, want := range []string{
		`"space":{"sys":{"id":"v","linkType":"Space","type":"Link"}}`,
		`"environment":{"sys":{"id":"master","linkType":"Environment","type":"Link"}}`,
	} {
		if !bytes.Contains(c.Items[0], []byte(want)) {
			t.Errorf("missing %s in %s", want, c.Items[0])
		}
	}
	if c := getCollection(t, ts, base+"assets"); c.Total != 1 {
		t.Errorf("an entry and an asset of one id must coexist: %d assets", c.Total)
	}
}

func TestLoad(t *testing.T) {
	s := New("l", "master", testToken)
	doc := fmt.Sprintf(`{"entries":[%s,%s],"assets":[%s]}`,
		entry("a", "t", map[string]any{"img": link("Asset", "p")}), entry("b", "t", nil), asset("p"))
	if err := s.Load([]byte(doc)); err != nil {
		t.Fatal(err)
	}
	c := getCollection(t, start(t, s), "/spaces/l/entries?sys.id=a")
	if g := ids(t, c.Includes["Asset"]); !slices.Equal(g, []string{"p"}) {
		t.Errorf("loaded asset not included: %v", g)
	}
	for _, bad := range []string{
		fmt.Sprintf(`{"entries":[%s]}`, asset("q")),
		fmt.Sprintf(`{"assets":[%s]}`, entry("q", "t", nil)),
		`{"entries":[],"posts":[]}`,
		`{"entries":[]} x`,
	} {
		if err := s.Load([]byte(bad)); err == nil {
			t.Errorf("Load accepted %s", bad)
		}
	}
}
