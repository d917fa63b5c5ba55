package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/gin-gonic/gin"
)

// dashboard answers GET / with page, the status dashboard (web.Dashboard),
// under dashboardPolicy's Content-Security-Policy.
func dashboard(page []byte) gin.HandlerFunc {
	policy := dashboardPolicy(page)
	return func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Header("Content-Security-Policy", policy)
		c.Data(http.StatusOK, "text/html; charset=utf-8", page)
	}
}

// dashboardPolicy is the Content-Security-Policy of the dashboard page:
// its requests go to folio only; of scripts, only the page's own inline
// <script> runs (by its SHA-256, CSP level 2), so text that reached the
// page as HTML could run none, not even an event handler attribute; no
// <base> elsewhere, no form posts, no <object>, and no other site frames
// it (the replay dialog takes credentials). Inline styles stay allowed:
// the page sets style attributes.
func dashboardPolicy(page []byte) string {
	script := "'none'"
	if _, rest, ok := bytes.Cut(page, []byte("<script>")); ok {
		if body, _, ok := bytes.Cut(rest, []byte("</script>")); ok {
			sum := sha256.Sum256(body)
			script = "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		}
	}
	return "default-src 'self'; script-src " + script + "; style-src 'unsafe-inline'; img-src 'self' data:; " +
		"object-src 'none'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'"
}
