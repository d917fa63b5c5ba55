// Package httpserver holds folio's HTTP server settings, so that folio and
// the bare server it is measured against (bench/bare) differ by their
// handlers only, and every listener folio opens (the service, the demo's
// Delivery API) has the same bounds on slow and hostile clients.
package httpserver

import (
	"net/http"
	"time"
)

// Limits bound what one client connection may hold of the server.
type Limits struct {
	// ReadHeader bounds the request line and headers from the first byte:
	// a client sending them a byte at a time (slowloris) is cut off when
	// it passes, however steadily it sends.
	ReadHeader time.Duration
	// Read bounds the whole request, body included (a webhook body
	// trickled in).
	Read time.Duration
	// Write bounds the answer, from the end of the request's headers.
	Write time.Duration
	// Idle bounds how long a kept-alive connection waits for its next
	// request.
	Idle time.Duration
	// MaxHeaderBytes bounds the request line and headers; net/http reads
	// 4 KiB more before it answers 431 Request Header Fields Too Large.
	MaxHeaderBytes int
}

// Default are folio's limits. They are not settings: folio's requests are
// small (a GET with a few headers, a webhook body of at most 2 MiB sent at
// once), so honest clients finish well inside them, while a slow or
// hostile one holds a connection 10 s at most before its request starts
// and 30 s at most in all. The largest answer (the whole blog in one
// document, FOLIO_BLOG_LIST=full) still has 30 s to reach a slow reader.
var Default = Limits{
	ReadHeader:     10 * time.Second,
	Read:           30 * time.Second,
	Write:          30 * time.Second,
	Idle:           2 * time.Minute,
	MaxHeaderBytes: 64 << 10,
}

// New returns a server for h with the Default limits.
func New(h http.Handler) *http.Server { return Default.Server(h) }

// Server returns a server for h with these limits.
func (l Limits) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.ReadHeader,
		ReadTimeout:       l.Read,
		WriteTimeout:      l.Write,
		IdleTimeout:       l.Idle,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}
