package handlers

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/folio-cms/folio/cache"
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

// BenchmarkContent is folio's content path through gin.
func BenchmarkContent(b *testing.B) {
	store := benchStore(b)
	h := NewRouter(Deps{Store: store, CORS: []string{"https://site.example"}, Status: NewStatus(Info{}, store)})
	etag := store.Load().CV.Root.Variant(cache.Gzip).ETag[0]
	b.Run("cv/gzip", func(b *testing.B) { benchServe(b, h, request("/cv", "Accept-Encoding", "gzip, deflate, br"), 200) })
	b.Run("cv/identity", func(b *testing.B) { benchServe(b, h, request("/cv"), 200) })
	b.Run("blog/br", func(b *testing.B) {
		benchServe(b, h, request("/blog", "Accept-Encoding", "gzip, deflate, br, zstd"), 200)
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
