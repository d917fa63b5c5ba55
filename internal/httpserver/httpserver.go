// Package httpserver holds folio's HTTP server settings, so that folio and
// the bare server it is measured against (bench/bare) differ by their
// handlers only.
package httpserver

import (
	"net/http"
	"time"
)

// New returns a server for h with folio's limits: headers within 10 s
// (slow clients), the whole request within 30 s, the answer within 30 s,
// idle connections kept 2 minutes, and headers of at most 64 KiB.
func New(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}
