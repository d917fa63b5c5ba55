package main

import (
	"net/url"
	"strings"

	"github.com/folio-cms/folio/config"
)

// signedTarget is the path and query a folio will check the signature of a
// request sent to u against. Without FOLIO_PUBLIC_URL that is u's own.
// With it, a URL on the public host or whose path starts with the public
// path goes through the proxy, which strips the prefix that folio puts
// back: u's own again. Any other URL (the default, straight to FOLIO_ADDR)
// reaches folio as it is, so the public path goes before it. (folio serves
// nothing under a public path such as /folio, so a path that starts with it
// is meant for the proxy.)
func signedTarget(u *url.URL, env config.Lookup) (string, error) {
	own := u.RequestURI()
	raw := lookup(env, "FOLIO_PUBLIC_URL")
	if raw == "" {
		return own, nil
	}
	public, err := config.ParsePublicURL(raw)
	if err != nil {
		return "", usageError{"FOLIO_PUBLIC_URL: " + err.Error()}
	}
	prefix := public.EscapedPath()
	if prefix == "" {
		return own, nil
	}
	if p := u.EscapedPath(); strings.EqualFold(u.Host, public.Host) || p == prefix || strings.HasPrefix(p, prefix+"/") {
		return own, nil
	}
	return prefix + own, nil
}
