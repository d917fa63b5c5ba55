package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/folio-cms/folio/config"
)

// healthcheck asks a running folio whether it is alive.
func healthcheck(ctx context.Context, target string, env config.Lookup, stdout io.Writer) error {
	if target == "" {
		addr, _ := env("FOLIO_ADDR")
		if addr == "" {
			addr = config.DefaultAddr
		}
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return usageError{fmt.Sprintf("FOLIO_ADDR %q is not host:port", addr)}
		}
		target = "http://127.0.0.1:" + port + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageError{fmt.Sprintf("--url: %v", err)}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", target, res.Status)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}
