package handlers

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth"
	"github.com/folio-cms/folio/auth/auth0test"
	"github.com/folio-cms/folio/cache"
	"github.com/folio-cms/folio/metrics"
	"github.com/folio-cms/folio/refresh"
	"github.com/gin-gonic/gin"
)

// benchWriter is a ResponseWriter that keeps nothing between requests, as a
// real connection's writer does, so the benchmark counts only what the
// router and the handler allocate.
type benchWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *benchWriter) Header() http.Header         { return w.h }
func (w *benchWriter) WriteHeader(code int)        { w.code = code }
func (w *benchWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }
func (w *benchWriter) reset()                      { clear(w.h); w.code, w.n = 0, 0 }

func benchServe(b *testing.B, h http.Handler, req *http.Request, wantCode int) {
	w := &benchWriter{h: http.Header{}}
	h.ServeHTTP(w, req)
	if w.code != wantCode && !(wantCode == 200 && w.code == 0) {
		b.Fatalf("status %d, want %d", w.code, wantCode)
	}
	b.SetBytes(int64(w.n))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, req)
	}
}

func benchStore(b *testing.B) *cache.Store {
	store := &cache.Store{}
	snapshotFor(b, store, "bench", 20)
	return store
}

func request(path string, header ...string) *http.Request {
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req
}

// BenchmarkContent is folio's content path as it serves: direct for the
// answers with content, counted and timed by folio's metrics.
func BenchmarkContent(b *testing.B) {
	store := benchStore(b)
	h := NewRouter(Deps{Store: store, CORS: []string{"https://site.example"}, Status: NewStatus(Info{}, store),
		Requests: metrics.New()})
	etag := store.Load().CV.Root.Variant(cache.Gzip).ETag[0]
	b.Run("cv/gzip", func(b *testing.B) { benchServe(b, h, request("/cv", "Accept-Encoding", "gzip, deflate, br"), 200) })
	b.Run("cv/identity", func(b *testing.B) { benchServe(b, h, request("/cv"), 200) })
	b.Run("blog/br", func(b *testing.B) {
		benchServe(b, h, request("/blog", "Accept-Encoding", "gzip, deflate, br, zstd"), 200)
	})
	b.Run("blog/page2/gzip", func(b *testing.B) {
		benchServe(b, h, request("/blog?page=2", "Accept-Encoding", "gzip"), 200)
	})
	b.Run("post/gzip", func(b *testing.B) { benchServe(b, h, request("/blog/post-7", "Accept-Encoding", "gzip"), 200) })
	b.Run("cv/304", func(b *testing.B) {
		benchServe(b, h, request("/cv", "Accept-Encoding", "gzip", "If-None-Match", etag), http.StatusNotModified)
	})
	b.Run("cv/cors", func(b *testing.B) {
		benchServe(b, h, request("/cv", "Accept-Encoding", "gzip", "Origin", "https://site.example"), 200)
	})
}

// BenchmarkBareGin is the floor: a gin handler that writes the same bytes
// with c.Data and nothing else (no ETag, no negotiation, no snapshot).
func BenchmarkBareGin(b *testing.B) {
	store := benchStore(b)
	cv := store.Load().CV.Root.Variant(cache.Gzip).Body
	r := gin.New()
	r.GET("/cv", func(c *gin.Context) {
		c.Header("Content-Encoding", "gzip")
		c.Data(http.StatusOK, "application/json; charset=utf-8", cv)
	})
	b.Run("cv/gzip", func(b *testing.B) { benchServe(b, r, request("/cv", "Accept-Encoding", "gzip, deflate, br"), 200) })
}

// BenchmarkBare is the floor without a framework: a net/http handler that
// writes the same bytes and header values as folio for /cv, gzip (what
// bench/bare does over the wire), without negotiation or conditions.
func BenchmarkBare(b *testing.B) {
	store := benchStore(b)
	r := store.Load().CV.Root
	v := r.Variant(cache.Gzip)
	vary := []string{"Accept-Encoding"}
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hdr := w.Header()
		hdr["Content-Type"] = hdrJSON
		hdr["Cache-Control"] = hdrCacheControl
		hdr["Vary"] = vary
		hdr["Last-Modified"] = r.LastModified()
		hdr["X-Content-Type-Options"] = hdrNoSniff
		hdr["Etag"] = v.ETag
		hdr["Content-Length"] = v.ContentLength
		hdr["Content-Encoding"] = v.ContentEncoding
		w.WriteHeader(http.StatusOK)
		w.Write(v.Body)
	})
	b.Run("cv/gzip", func(b *testing.B) { benchServe(b, h, request("/cv", "Accept-Encoding", "gzip, deflate, br"), 200) })
}

// discardQueue holds every event by dropping it: the benchmark measures the
// intake, not a worker.
type discardQueue struct{}

func (discardQueue) Enqueue(context.Context, refresh.Event) error { return nil }

// alwaysFirst is a Deduper that never sees a duplicate, so one pre-signed
// request can be replayed.
type alwaysFirst struct{}

func (alwaysFirst) First(context.Context, string) (bool, error) { return true, nil }
func (alwaysFirst) Forget(context.Context, string)              {}

// BenchmarkWebhookAccept is the accept path: read the body, verify the
// Contentful signature, verify Basic credentials against the cached Auth0
// token, parse, decide the collections, enqueue, answer 202.
func BenchmarkWebhookAccept(b *testing.B) {
	iss := auth0test.New("https://folio.example/api")
	defer iss.Close()
	iss.AddClient("hook", "hook-secret")
	a0, err := auth.NewAuth0(auth.Auth0Config{IssuerURL: iss.URL, Audience: iss.Audience})
	if err != nil {
		b.Fatal(err)
	}
	store := benchStore(b)
	h := NewRouter(Deps{Store: store, Status: NewStatus(Info{}, store),
		Logger:  slog.New(slog.DiscardHandler),
		Webhook: NewWebhook(refresh.NewIntake(store, discardQueue{}, alwaysFirst{}, nil, refresh.IntakeOptions{Collections: hookCols})),
		Auth:    auth.NewGuard(auth.NewSignatureVerifier(signingSecret, time.Minute), a0),
		Limits:  NewClientLimits(1e9, 1e9)})
	body := publishBody("p1", 2)
	req := httptest.NewRequest("POST", "/webhooks/contentful", nil)
	req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
	req.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish")
	req.SetBasicAuth("hook", "hook-secret")
	auth.Sign(req, body, signingSecret, time.Now(), "Content-Type", "X-Contentful-Topic")
	w := &benchWriter{h: http.Header{}}
	run := func() {
		w.reset()
		req.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, req)
	}
	run() // the one token exchange
	if w.code != http.StatusAccepted {
		b.Fatalf("status %d", w.code)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
	b.StopTimer()
	if iss.TokenRequests() != 1 {
		b.Fatalf("%d token requests", iss.TokenRequests())
	}
}
