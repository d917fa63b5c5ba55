package handlers

import (
	"net/http"
	"time"

	"github.com/folio-cms/folio/cache"
	"github.com/gin-gonic/gin"
)

// Info describes the running process for /status.
type Info struct {
	Version     string
	Commit      string
	Demo        bool
	Space       string
	Environment string
	StartedAt   time.Time
}

// StatusDoc is the JSON of GET /status. It carries no secret: no token, no
// signing secret, no Redis password, no credentials of any kind.
type StatusDoc struct {
	Service     string                    `json:"service"`
	Version     string                    `json:"version"`
	Commit      string                    `json:"commit"`
	Demo        bool                      `json:"demo"`
	Ready       bool                      `json:"ready"`
	StartedAt   time.Time                 `json:"startedAt"`
	Now         time.Time                 `json:"now"`
	Space       string                    `json:"space"`
	Environment string                    `json:"environment"`
	Collections map[string]CollectionInfo `json:"collections"`
	// Sections filled in by StatusReporters (refresh, redis).
	LastError   any `json:"lastError,omitempty"`
	Events      any `json:"events"`
	DeadLetters any `json:"deadLetters"`
	Redis       any `json:"redis,omitempty"`
	// Auth is webhook authentication: the methods, Auth0's state.
	Auth any `json:"auth,omitempty"`
	// Degraded names what keeps folio from its whole job while it serves
	// content (as /readyz does).
	Degraded []string `json:"degraded,omitempty"`
}

// CollectionInfo is one collection's line on /status.
type CollectionInfo struct {
	Entries      int            `json:"entries"`
	Posts        int            `json:"posts,omitempty"`
	Bytes        int            `json:"bytes"`
	ETag         string         `json:"etag"`
	LastModified string         `json:"lastModified"`
	FetchedAt    time.Time      `json:"fetchedAt"`
	AgeSeconds   float64        `json:"ageSeconds"`
	FetchMillis  int64          `json:"fetchMillis"`
	Requests     int            `json:"requests"`
	Revisions    map[string]int `json:"revisions"`
	// Unaddressable are the listed posts no /blog/{slug} serves, and why
	// (no slug, a duplicate, one no browser can reach: cache.SlugProblem).
	Unaddressable []cache.Unaddressable `json:"unaddressable,omitempty"`
}

// StatusReporter adds a part's own section to /status. It is a function so
// that the parts need not import this package.
type StatusReporter func(doc *StatusDoc)

// Degradation names what keeps folio from doing its whole job while it
// serves content, such as webhooks that cannot be authenticated at all;
// nothing when all is well. auth.Guard.Degraded is one.
type Degradation func() []string

// Status serves /status, /healthz and /readyz.
type Status struct {
	info      Info
	store     Snapshots
	reporters []StatusReporter
	degraded  []Degradation
}

// NewStatus returns the operations handlers.
func NewStatus(info Info, store Snapshots, reporters ...StatusReporter) *Status {
	return &Status{info: info, store: store, reporters: reporters}
}

// WithDegradation adds d to what /readyz and /status report as degraded.
func (h *Status) WithDegradation(d Degradation) *Status {
	h.degraded = append(h.degraded, d)
	return h
}

func (h *Status) degradedNow() []string {
	var all []string
	for _, d := range h.degraded {
		all = append(all, d()...)
	}
	return all
}

// Healthz answers while the process runs: a liveness probe.
func (h *Status) Healthz(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// Readyz answers 200 once content is loaded: a readiness probe, so a load
// balancer sends no reader to a replica that would answer 503. Readiness
// is about serving content: a replica whose webhooks cannot be
// authenticated still serves readers, so it stays 200 and says
// {"status": "degraded", "degraded": [...]} (taking every replica out of
// the balancer for an Auth0 misconfiguration would turn it into a content
// outage).
func (h *Status) Readyz(c *gin.Context) {
	if !h.store.Load().Ready() {
		fail(c, errNotReady)
		return
	}
	c.Header("Cache-Control", "no-store")
	if d := h.degradedNow(); len(d) > 0 {
		c.JSON(http.StatusOK, gin.H{"status": "degraded", "degraded": d})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// Status answers GET /status.
func (h *Status) Status(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, h.Doc())
}

// Doc builds the status document.
func (h *Status) Doc() *StatusDoc {
	now := time.Now()
	s := h.store.Load()
	doc := &StatusDoc{
		Service: "folio", Version: h.info.Version, Commit: h.info.Commit, Demo: h.info.Demo,
		Ready: s.Ready(), StartedAt: h.info.StartedAt.UTC(), Now: now.UTC(),
		Space: h.info.Space, Environment: h.info.Environment,
		Collections: map[string]CollectionInfo{},
		Events:      []any{}, DeadLetters: []any{},
	}
	for _, name := range []cache.Collection{cache.CV, cache.Blog} {
		p := s.Part(name)
		if p == nil {
			continue
		}
		revs := make(map[string]int, len(p.Refs))
		for ref, rev := range p.Refs {
			revs[string(ref)] = rev
		}
		doc.Collections[string(name)] = CollectionInfo{
			Entries: p.Entries, Posts: len(p.Posts), Bytes: p.Bytes(),
			ETag: p.Root.ETag(), LastModified: p.Root.LastModified()[0],
			FetchedAt: p.FetchedAt.UTC(), AgeSeconds: now.Sub(p.FetchedAt).Seconds(),
			FetchMillis: p.Took.Milliseconds(), Requests: p.Requests, Revisions: revs,
			Unaddressable: p.Unaddressable(),
		}
	}
	for _, r := range h.reporters {
		r(doc)
	}
	doc.Degraded = h.degradedNow()
	return doc
}
