package handlers

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/folio-cms/folio/web"
)

// TestDashboardPolicy: the dashboard's Content-Security-Policy lets only
// the page's own script run (its hash, no 'unsafe-inline', so markup that
// reached the page could run nothing), keeps requests on folio, and
// forbids framing, form posts, plugins and a foreign <base>; under a path
// prefix too.
func TestDashboardPolicy(t *testing.T) {
	for _, page := range [][]byte{web.Dashboard, web.DashboardAt("/folio")} {
		scripts := regexp.MustCompile(`(?s)<script\b[^>]*>(.*?)</script>`).FindAllSubmatch(page, -1)
		if len(scripts) != 1 {
			t.Fatalf("the dashboard has %d scripts; the policy admits one", len(scripts))
		}
		sum := sha256.Sum256(scripts[0][1])
		w := httptest.NewRecorder()
		NewRouter(Deps{Logger: testLogger, Status: NewStatus(Info{}, nil), Dashboard: page}).
			ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
		policy := w.Header().Get("Content-Security-Policy")
		directives := map[string]string{}
		for _, d := range strings.Split(policy, ";") {
			name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
			directives[name] = value
		}
		for name, want := range map[string]string{
			"default-src": "'self'", "script-src": "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'",
			"object-src": "'none'", "base-uri": "'self'", "form-action": "'none'", "frame-ancestors": "'none'",
		} {
			if directives[name] != want {
				t.Errorf("%s is %q, want %q (policy %q)", name, directives[name], want, policy)
			}
		}
		if w.Code != http.StatusOK || strings.Contains(policy, "unsafe-eval") || strings.Contains(directives["script-src"], "unsafe-inline") {
			t.Errorf("%d, policy %q", w.Code, policy)
		}
	}
	if got := dashboardPolicy([]byte("<!doctype html><title>no script</title>")); !strings.Contains(got, "script-src 'none';") {
		t.Errorf("a page without a script: %q", got)
	}
}
