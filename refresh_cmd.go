package main

import (
	"context"
	"io"
	"net/http"

	"github.com/folio-cms/folio/config"
)

const refreshUsage = `Usage: folio refresh [flags]

Asks a running folio for a forced full refresh (POST /admin/refresh): it
refetches every collection and installs what the Delivery API answers, even
where a revision is lower than served. With Redis, any replica takes the
call and every replica serves the result. The call authenticates as a
webhook does: signed with the signing secret, and with Auth0 credentials
when the deployment requires them.

Examples:
  CONTENTFUL_WEBHOOK_SECRET_FILE=/run/secrets/signing folio refresh
  folio refresh --url https://folio.example/admin/refresh --client-id ID --client-secret-file secret.txt

Flags:
`

// adminRefresh implements `folio refresh`.
func adminRefresh(ctx context.Context, args []string, env config.Lookup, stdout, stderr io.Writer) error {
	fs := newFlags("refresh", stderr, refreshUsage)
	target := fs.String("url", "", "admin URL (default: /admin/refresh on FOLIO_ADDR's host and port, localhost when it names no host)")
	creds := credentialFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *target == "" {
		var err error
		if *target, err = localURL(env, "/admin/refresh"); err != nil {
			return err
		}
	}
	req, err := newRequest(ctx, http.MethodPost, *target, http.NoBody)
	if err != nil {
		return err
	}
	if err := creds.apply(req, nil, env); err != nil {
		return err
	}
	return call(ctx, req, stdout, "the refresh was not accepted")
}
