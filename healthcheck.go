package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/folio-cms/folio/config"
)

// healthTimeout bounds a health check: inside the Dockerfile HEALTHCHECK's
// 4 s timeout, so folio reports the failure rather than Docker killing it.
const healthTimeout = 3 * time.Second

// healthcheck asks a running folio whether it is alive: GET /healthz on
// target, or on the folio that FOLIO_ADDR names (localURL). Only a 200 is
// healthy; a redirect is not followed and no proxy is used.
func healthcheck(ctx context.Context, target string, env config.Lookup, stdout io.Writer) error {
	if target == "" {
		var err error
		if target, err = localURL(env, "/healthz"); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := newRequest(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	res, err := cliClient(false).Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", sendError(err))
	}
	res.Body.Close()
	req.URL.RawQuery = ""
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return fmt.Errorf("unhealthy: %s answered %s", req.URL, redirected(res))
	case res.StatusCode != http.StatusOK:
		return fmt.Errorf("unhealthy: %s answered %s", req.URL, res.Status)
	}
	fmt.Fprintln(stdout, "healthy")
	return nil
}
