package localapi

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

func TestAuth(t *testing.T) {
	s, ts := fixtureServer(t)
	ctx := context.Background()
	for _, tc := range []struct{ name, token, query string }{
		{"no token", "", ""},
		{"wrong bearer", "wrong", ""},
		{"wrong access_token", "", "?access_token=wrong"},
	} {
		r, err := fetch(ctx, ts, http.MethodGet, entries+tc.query, tc.token)
		if err != nil {
			t.Fatal(err)
		}
		e := wantError(t, tc.name, r, http.StatusUnauthorized, "AccessTokenInvalid")
		if e.Message == "" {
			t.Errorf("%s: empty message", tc.name)
		}
	}
	if r, _ := fetch(ctx, ts, http.MethodGet, entries+"?access_token="+testToken, ""); r.status != http.StatusOK {
		t.Errorf("access_token parameter: status %d", r.status)
	}

	s.SetToken("rotated")
	wantError(t, "revoked token", get(t, ts, entries), http.StatusUnauthorized, "AccessTokenInvalid")
	if r, _ := fetch(ctx, ts, http.MethodGet, entries, "rotated"); r.status != http.StatusOK {
		t.Errorf("new token: status %d", r.status)
	}
}

func TestRoutes(t *testing.T) {
	_, ts := fixtureServer(t)
	if c := getCollection(t, ts, "/spaces/"+testSpace+"/entries?sys.id=finn"); c.Total != 1 {
		t.Errorf("environment-less path: total %d", c.Total)
	}
	if c := getCollection(t, ts, assets); c.Total != 4 || !slices.Equal(ids(t, c.Items), []string{"1x0xpXu4pSGS4OukSyWGUK", "happycat", "jake", "nyancat"}) {
		t.Errorf("assets: total %d, %v", c.Total, ids(t, c.Items))
	}
	if c := getCollection(t, ts, assets+"?limit=1&skip=1"); c.Total != 4 || !slices.Equal(ids(t, c.Items), []string{"happycat"}) {
		t.Errorf("assets paging: %v", ids(t, c.Items))
	}
	r := get(t, ts, entries+"/nyancat?locale=en-GB")
	var one struct {
		Sys struct{ ID, Type, Locale string } `json:"sys"`
	}
	if err := json.Unmarshal(r.body, &one); err != nil || r.status != 200 || one.Sys.ID != "nyancat" || one.Sys.Type != "Entry" || one.Sys.Locale != "en-GB" {
		t.Errorf("single entry: %d %s", r.status, r.body)
	}
	if r := get(t, ts, assets+"/nyancat"); r.status != 200 || !bytes.Contains(r.body, []byte(`"type":"Asset"`)) {
		t.Errorf("single asset: %d %s", r.status, r.body)
	}
	for _, p := range []string{
		entries + "/nobody",
		"/spaces/other/environments/master/entries",
		"/spaces/" + testSpace + "/environments/staging/entries",
		"/spaces/" + testSpace + "/environments/master/content_types",
		"/spaces/" + testSpace,
		"/",
	} {
		wantError(t, p, get(t, ts, p), http.StatusNotFound, "NotFound")
	}
	r, err := fetch(context.Background(), ts, http.MethodPost, entries, testToken)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, "POST", r, http.StatusMethodNotAllowed, "MethodNotAllowed")
	if r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: Allow %q", r.header.Get("Allow"))
	}

	// A non-master environment is not served at the environment-less path.
	s := New("sp", "staging", testToken)
	if err := s.Put(entry("x", "t", nil)); err != nil {
		t.Fatal(err)
	}
	sts := start(t, s)
	if c := getCollection(t, sts, "/spaces/sp/environments/staging/entries"); c.Total != 1 {
		t.Errorf("staging: total %d", c.Total)
	}
	wantError(t, "environment-less on staging", get(t, sts, "/spaces/sp/entries"), http.StatusNotFound, "NotFound")
}
