// Package web holds the files folio serves or loads that are not Go code: the
// status dashboard page and the sample Contentful space behind demo mode.
//
// Both are embedded so that the binary is the whole deployment: the Docker image
// carries no asset directory, and a newcomer running `folio` with no
// configuration gets a working site and dashboard without any files beside it.
package web

import (
	"bytes"
	_ "embed"
	"html"
)

// DemoSpace is the built-in sample Contentful space that demo mode serves when
// no CONTENTFUL_SPACE_ID is set. It is one JSON document,
// {"entries": [...], "assets": [...]}, whose entities are in the Content Delivery
// API's single-locale shape (the shape of `items` and `includes` in a real
// response), so demo mode can answer Delivery API requests from it and exercise
// the same fetch, link resolution and serialisation code as a real space.
//
// It holds a fictional engineer's profile, CV sections (experience, education,
// skill, project), an author and five blog posts, one of them with a rich-text
// body that embeds a project entry and an asset. Treat it as read-only: it is
// shared by every caller.
//
//go:embed demo/space.json
var DemoSpace []byte

// Dashboard is the status page served at GET /. It polls GET /status (relative
// to the page, so it also works under a path prefix behind a proxy) and renders
// it. It is one self-contained HTML file, with inline CSS and JavaScript and no
// external requests, so that it works offline and where CDNs are blocked, and
// needs no build step. Treat it as read-only: it is shared by every caller.
//
//go:embed index.html
var Dashboard []byte

// DashboardAt is Dashboard for a folio whose public URL has the path prefix
// prefix (FOLIO_PUBLIC_URL's, such as "/folio"): a <base href="/folio/">
// after the charset makes the page's relative requests (/status, the
// content links) reach folio under the prefix even when the page was
// opened without its trailing slash. An empty prefix returns Dashboard.
func DashboardAt(prefix string) []byte {
	if prefix == "" {
		return Dashboard
	}
	const anchor = `<meta charset="utf-8">`
	base := anchor + "\n" + `<base href="` + html.EscapeString(prefix+"/") + `">`
	return bytes.Replace(Dashboard, []byte(anchor), []byte(base), 1)
}
