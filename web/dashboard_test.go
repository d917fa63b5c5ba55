package web

import (
	"bytes"
	"strings"
	"testing"
)

func TestDashboardAt(t *testing.T) {
	if got := DashboardAt(""); !bytes.Equal(got, Dashboard) {
		t.Fatal("no prefix changed the page")
	}
	page := string(DashboardAt("/fo\"lio"))
	head, _, _ := strings.Cut(page, "<title")
	if !strings.Contains(head, `<meta charset="utf-8">`+"\n"+`<base href="/fo&#34;lio/">`) {
		t.Fatalf("no base in the head:\n%s", head)
	}
	if strings.Count(page, "<base") != 1 || len(page) <= len(Dashboard) {
		t.Fatal("one base element, added")
	}
	if strings.Contains(string(Dashboard), "<base") {
		t.Fatal("DashboardAt changed the shared page")
	}
}
