package cache

import (
	"net/url"
	"strings"
)

// MaxSlugPath bounds the percent-encoded length of a post's path
// (/blog/ and the escaped slug), in bytes: nginx's default
// large_client_header_buffers (8 KiB) refuses a longer request line, and
// most CDNs and proxies sit at or above it.
const MaxSlugPath = 8000

// SlugProblem reports why /blog/{slug} cannot serve a post with slug, or ""
// when it can. A slug is served when a browser reaches it in both forms a
// frontend builds (each '/' kept, or every '/' escaped as %2F): any
// character is fine (it is percent-encoded, and the route decodes it),
// but an empty slug, an empty, "." or ".." segment (browsers and proxies
// rewrite "/./", "/../" and "//" before folio sees them; WHATWG URL,
// "shorten a path") and a path longer than MaxSlugPath are not.
func SlugProblem(slug string) string {
	if slug == "" {
		return "no slug"
	}
	for seg := range strings.SplitSeq(slug, "/") {
		switch seg {
		case "":
			return "slug has an empty segment (a leading, trailing or double '/'): browsers and proxies rewrite such paths"
		case ".", "..":
			return "slug has a '" + seg + "' segment: browsers and proxies rewrite such paths"
		}
	}
	if len("/blog/")+len(url.PathEscape(slug)) > MaxSlugPath {
		return "slug is too long for a URL (over 8,000 bytes percent-encoded)"
	}
	return ""
}

// Unaddressable is a listed post that no /blog/{slug} serves, and why.
type Unaddressable struct {
	ID     string `json:"id"`
	Slug   string `json:"slug,omitempty"`
	Reason string `json:"reason"`
}

// Unaddressable lists the part's posts that are on the /blog pages but
// served at no /blog/{slug}: without a slug, with one SlugProblem refuses,
// or with one an earlier post holds. Nil for the CV and for a blog whose
// every post is served.
func (p *Part) Unaddressable() []Unaddressable {
	if p.Collection != Blog {
		return nil
	}
	var out []Unaddressable
	holder := map[string]string{} // slug → the id of the post serving it
	for _, it := range p.Items {
		if it.Post {
			holder[it.Slug] = it.ID
		}
	}
	for _, it := range p.Items {
		if it.Post {
			continue
		}
		reason := SlugProblem(it.Slug)
		if reason == "" {
			reason = "duplicate slug: post " + holder[it.Slug] + " is served there"
		}
		out = append(out, Unaddressable{ID: it.ID, Slug: it.Slug, Reason: reason})
	}
	return out
}
