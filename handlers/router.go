package handlers

import (
	"log/slog"
	"net/http"
	"path"
	"strings"

	"github.com/gin-gonic/gin"
)

// Deps is everything the router serves from.
type Deps struct {
	Store     Snapshots
	CORS      []string
	Logger    *slog.Logger
	Status    *Status
	History   *History     // GET /status/history; not mounted when nil
	Metrics   http.Handler // GET /metrics
	Dashboard []byte       // GET /

	// The write side; without Webhook the routes are not mounted (tests of
	// the read path).
	Webhook *Webhook
	Auth    Authenticator
	Limits  *ClientLimits
	Admin   *Admin
	// CountWebhook, when set, counts each webhook answer (metrics).
	CountWebhook func(answer string)
	// Demo, in demo mode only, serves the webhook test bench (/demo/...);
	// without it those paths are 404s.
	Demo *Demo
	// Requests, when set, counts every answer by route and status, and
	// times it (metrics).
	Requests Requests
}

func init() {
	// gin's debug mode prints every route at start and warns on each run;
	// folio logs through slog instead.
	gin.SetMode(gin.ReleaseMode)
}

// NewRouter builds folio's HTTP handler: the content answers straight from
// net/http (Content.ServeDirect), everything else, errors included, through
// the gin engine. No request logging on the content path, by design: a CDN
// or proxy in front logs reads, and the benchmark shows the cost.
func NewRouter(d Deps) http.Handler {
	log := d.Logger
	if log == nil {
		log = slog.Default()
	}
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.ContextWithFallback = true
	// folio never redirects: a webhook sender does not follow a 307 on
	// POST (and one that did would break a signature bound to the path),
	// and a browser's fetch of a redirect needs CORS headers on it too. A
	// path off by a slash or by case gets a 404 naming the route instead.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	var counters *routeCounters
	if d.Requests != nil {
		// Before the recovery, so that a recovered panic's 500 is counted.
		counters = newRouteCounters(d.Requests)
		r.Use(counters.middleware())
	}
	r.Use(gin.CustomRecoveryWithWriter(discard{}, func(c *gin.Context, err any) {
		log.Error("panic while serving", "method", c.Request.Method, "path", c.FullPath(), "panic", err)
		fail(c, &Error{Status: http.StatusInternalServerError, Code: "internal_error",
			Message: "folio could not answer; the error is logged"})
	}))
	var known gin.RoutesInfo // every route, once all are registered (below)
	cors := NewCORS(d.CORS)
	content := NewContent(d.Store, cors)
	r.NoRoute(func(c *gin.Context) {
		route := suggest(known, c.Request.URL.Path)
		if contentPath(route) {
			// A page's script reads why its fetch of /cv/ failed only
			// with the content routes' CORS headers.
			content.routeHeaders(c.Writer.Header(), c.Request)
		}
		fail(c, notFound(route))
	})
	r.NoMethod(func(c *gin.Context) { fail(c, errMethod) })

	for _, path := range []string{"/cv", "/blog", "/blog/*slug"} {
		r.GET(path, content.Serve)
		r.HEAD(path, content.Serve)
		r.OPTIONS(path, cors.Preflight)
	}

	ops := r.Group("/", func(c *gin.Context) { c.Set(loggerKey, log) })
	ops.GET("/healthz", d.Status.Healthz)
	ops.HEAD("/healthz", d.Status.Healthz)
	ops.GET("/readyz", d.Status.Readyz)
	ops.HEAD("/readyz", d.Status.Readyz)
	ops.GET("/status", d.Status.Status)
	ops.HEAD("/status", d.Status.Status)
	if d.History != nil {
		ops.GET("/status/history", d.History.Serve)
		ops.HEAD("/status/history", d.History.Serve)
	}
	if d.Metrics != nil {
		ops.GET("/metrics", gin.WrapH(d.Metrics))
		ops.HEAD("/metrics", gin.WrapH(d.Metrics))
	}
	if d.Webhook != nil {
		count := d.CountWebhook
		if count == nil {
			count = func(string) {}
		}
		ops.POST("/webhooks/contentful", CountAnswers(count), RequireAuth(d.Auth, d.Limits), d.Webhook.Receive)
	}
	if d.Admin != nil {
		admin := ops.Group("/admin", RequireAuth(d.Auth, d.Limits))
		admin.GET("/dead-letters", d.Admin.DeadLetters)
		admin.HEAD("/dead-letters", d.Admin.DeadLetters)
		admin.POST("/dead-letters/:id/replay", d.Admin.Replay)
		admin.POST("/refresh", d.Admin.Refresh)
	}
	if d.Demo != nil {
		bench := ops.Group("/demo")
		bench.GET("/entries", d.Demo.Entries)
		bench.HEAD("/entries", d.Demo.Entries)
		bench.POST("/entries/:id/publish", d.Demo.Publish)
		bench.POST("/entries/:id/unpublish", d.Demo.Unpublish)
	}
	if d.Dashboard != nil {
		page := dashboard(d.Dashboard)
		ops.GET("/", page)
		ops.HEAD("/", page)
	}
	known = r.Routes()
	if counters != nil {
		counters.register(d.Requests, known)
	}
	return contentFirst{content: content, engine: r, counters: counters}
}

// contentFirst answers the content routes' successful reads before gin: the
// engine's context, routing and recovery cost more than the answer itself.
type contentFirst struct {
	content  *Content
	engine   *gin.Engine
	counters *routeCounters // nil: not counted
}

func (h contentFirst) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if h.counters == nil {
		if h.content.serveDirect(w, req) == 0 {
			h.engine.ServeHTTP(w, req)
		}
		return
	}
	start := h.counters.now()
	if code := h.content.serveDirect(w, req); code != 0 {
		h.counters.content[contentRoute(req)](code, h.counters.now()-start)
		return
	}
	h.engine.ServeHTTP(w, req) // counted by the engine's middleware
}

// suggest returns the route a path not found was meant for, when cleaning
// it (a trailing or doubled slash, a dot segment) or its case makes it
// one, else "".
func suggest(routes gin.RoutesInfo, p string) string {
	clean := path.Clean("/" + p)
	for _, r := range routes {
		if !strings.ContainsAny(r.Path, ":*") {
			if strings.EqualFold(r.Path, clean) {
				return r.Path
			}
		} else if clean != p && len(clean) <= 200 && matchRoute(r.Path, clean) {
			return clean
		}
	}
	return ""
}

// matchRoute reports whether gin's pattern (":name" one segment, "*name"
// the rest) routes p.
func matchRoute(pattern, p string) bool {
	want, got := strings.Split(pattern, "/"), strings.Split(p, "/")
	for i, seg := range want {
		switch {
		case i >= len(got):
			return false
		case strings.HasPrefix(seg, "*"):
			return true
		case strings.HasPrefix(seg, ":"):
			if got[i] == "" {
				return false
			}
		case seg != got[i]:
			return false
		}
	}
	return len(want) == len(got)
}

// discard swallows gin's own panic printing; the recovery func logs instead.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
