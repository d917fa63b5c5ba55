package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// CORS lets the listed origins' pages read the content from a browser.
// Everyone else still gets the content (it is public), but without the
// Access-Control-Allow-Origin header a browser keeps it from other sites'
// scripts.
type CORS struct {
	any     bool
	allowed map[string][]string // origin → its own Access-Control-Allow-Origin value
}

var (
	hdrStar          = []string{"*"}[:1:1]
	hdrExposeHeaders = []string{"Etag, Last-Modified, Retry-After"}[:1:1]
	hdrAllowMethods  = "GET, HEAD"
	hdrAllowHeaders  = "If-None-Match, If-Modified-Since, If-Match, If-Unmodified-Since"
)

// NewCORS allows origins ("*" allows any), each as browsers send it in
// Origin and as config.ParseOrigin gives it (lower-case scheme and host,
// no default port, no trailing slash): they are compared exactly.
func NewCORS(origins []string) *CORS {
	c := &CORS{allowed: map[string][]string{}}
	for _, o := range origins {
		if o == "*" {
			c.any = true
			continue
		}
		c.allowed[o] = []string{o}[:1:1]
	}
	return c
}

// varies reports whether answers depend on Origin, so caches must key on it.
func (c *CORS) varies() bool { return len(c.allowed) > 0 && !c.any }

func (c *CORS) allow(origin []string) []string {
	if len(origin) == 0 {
		return nil
	}
	if c.any {
		return hdrStar
	}
	return c.allowed[origin[0]]
}

// apply sets the CORS headers of an answer on a content route, whatever
// it is (200, 304, 4xx, 5xx, HEAD): a browser hides from the page's script
// any answer without them, errors included.
func (c *CORS) apply(h http.Header, origin []string) {
	if v := c.allow(origin); v != nil {
		h["Access-Control-Allow-Origin"] = v
		h["Access-Control-Expose-Headers"] = hdrExposeHeaders
	}
}

// Preflight answers OPTIONS on the content routes: 204 for an allowed origin,
// 403 otherwise, so a misconfigured frontend sees why in its console. An
// OPTIONS without Origin is no preflight: 204 with Allow.
func (c *CORS) Preflight(ctx *gin.Context) {
	if len(ctx.Request.Header["Origin"]) == 0 {
		ctx.Header("Allow", "GET, HEAD, OPTIONS")
		ctx.AbortWithStatus(http.StatusNoContent)
		return
	}
	v := c.allow(ctx.Request.Header["Origin"])
	if v == nil {
		fail(ctx, &Error{Status: http.StatusForbidden, Code: "cors_origin_denied",
			Message: "this origin may not read folio's content; add it to FOLIO_CORS_ORIGINS"})
		return
	}
	h := ctx.Writer.Header()
	h["Access-Control-Allow-Origin"] = v
	h.Set("Access-Control-Allow-Methods", hdrAllowMethods)
	h.Set("Access-Control-Allow-Headers", hdrAllowHeaders)
	h.Set("Access-Control-Max-Age", "600")
	if c.varies() {
		h.Set("Vary", "Origin")
	}
	ctx.AbortWithStatus(http.StatusNoContent)
}
