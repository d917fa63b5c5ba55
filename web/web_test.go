package web

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// entity is the part of a Delivery API entry or asset that the checks below read.
type entity struct {
	Sys struct {
		Type        string `json:"type"`
		ID          string `json:"id"`
		Revision    int    `json:"revision"`
		Locale      string `json:"locale"`
		ContentType *struct {
			Sys struct {
				ID string `json:"id"`
			} `json:"sys"`
		} `json:"contentType"`
	} `json:"sys"`
	Fields map[string]any `json:"fields"`
}

type space struct {
	Entries []entity `json:"entries"`
	Assets  []entity `json:"assets"`
}

func parseDemoSpace(t *testing.T) space {
	t.Helper()
	if !json.Valid(DemoSpace) {
		t.Fatal("DemoSpace is not valid JSON")
	}
	var s space
	if err := json.Unmarshal(DemoSpace, &s); err != nil {
		t.Fatalf("DemoSpace does not decode: %v", err)
	}
	return s
}

func contentType(e entity) string {
	if e.Sys.ContentType == nil {
		return ""
	}
	return e.Sys.ContentType.Sys.ID
}

// links calls fn for every Entry or Asset link found anywhere under v,
// including links inside rich-text documents (data.target).
func links(v any, fn func(linkType, id string)) {
	switch v := v.(type) {
	case map[string]any:
		if sys, ok := v["sys"].(map[string]any); ok && sys["type"] == "Link" {
			lt, _ := sys["linkType"].(string)
			id, _ := sys["id"].(string)
			if lt == "Entry" || lt == "Asset" {
				fn(lt, id)
			}
		}
		for _, child := range v {
			links(child, fn)
		}
	case []any:
		for _, child := range v {
			links(child, fn)
		}
	}
}

func TestDemoSpaceEntities(t *testing.T) {
	s := parseDemoSpace(t)
	if len(s.Entries) == 0 || len(s.Assets) == 0 {
		t.Fatalf("want entries and assets, got %d entries and %d assets", len(s.Entries), len(s.Assets))
	}
	seen := map[string]bool{}
	check := func(e entity, wantType string) {
		key := wantType + ":" + e.Sys.ID
		switch {
		case e.Sys.Type != wantType:
			t.Errorf("%s: sys.type = %q", key, e.Sys.Type)
		case e.Sys.ID == "":
			t.Errorf("%s entity without sys.id", wantType)
		case seen[key]:
			t.Errorf("%s: duplicate id", key)
		case e.Sys.Revision < 1:
			t.Errorf("%s: sys.revision = %d, want a positive integer", key, e.Sys.Revision)
		case e.Sys.Locale != "en-US":
			t.Errorf("%s: sys.locale = %q, want en-US", key, e.Sys.Locale)
		case wantType == "Entry" && contentType(e) == "":
			t.Errorf("%s: no sys.contentType link", key)
		}
		seen[key] = true
	}
	for _, e := range s.Entries {
		check(e, "Entry")
	}
	for _, a := range s.Assets {
		check(a, "Asset")
	}
}

func TestDemoSpaceLinksResolve(t *testing.T) {
	s := parseDemoSpace(t)
	ids := map[string]map[string]bool{"Entry": {}, "Asset": {}}
	for _, e := range s.Entries {
		ids["Entry"][e.Sys.ID] = true
	}
	for _, a := range s.Assets {
		ids["Asset"][a.Sys.ID] = true
	}
	n := 0
	for _, e := range append(append([]entity(nil), s.Entries...), s.Assets...) {
		links(e.Fields, func(linkType, id string) {
			n++
			if !ids[linkType][id] {
				t.Errorf("%s %q links to missing %s %q", e.Sys.Type, e.Sys.ID, linkType, id)
			}
		})
	}
	if n == 0 {
		t.Error("no links found; the demo must exercise link resolution")
	}
}

func TestDemoSpaceContent(t *testing.T) {
	s := parseDemoSpace(t)
	byType := map[string][]entity{}
	for _, e := range s.Entries {
		byType[contentType(e)] = append(byType[contentType(e)], e)
	}
	// The default FOLIO_CV_TYPES.
	for _, ct := range []string{"profile", "experience", "education", "skill", "project"} {
		if len(byType[ct]) == 0 {
			t.Errorf("no %s entry", ct)
		}
	}

	posts := byType["blogPost"]
	if len(posts) != 5 {
		t.Fatalf("got %d blogPost entries, want 5", len(posts))
	}
	kebab := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	slugs := map[string]bool{}
	richText := 0
	for _, p := range posts {
		slug, _ := p.Fields["slug"].(string)
		if !kebab.MatchString(slug) {
			t.Errorf("post %q: slug %q is not kebab-case", p.Sys.ID, slug)
		}
		if slugs[slug] {
			t.Errorf("post %q: duplicate slug %q", p.Sys.ID, slug)
		}
		slugs[slug] = true

		switch body := p.Fields["body"].(type) {
		case string:
			if strings.TrimSpace(body) == "" {
				t.Errorf("post %q: empty markdown body", p.Sys.ID)
			}
		case map[string]any:
			richText++
			if body["nodeType"] != "document" {
				t.Errorf("post %q: rich-text body nodeType = %v, want document", p.Sys.ID, body["nodeType"])
			}
		default:
			t.Errorf("post %q: body is %T, want markdown string or rich-text document", p.Sys.ID, body)
		}
	}
	if richText != 1 {
		t.Errorf("got %d rich-text bodies, want exactly 1", richText)
	}
}

func TestDashboardSelfContained(t *testing.T) {
	page := string(Dashboard)
	if strings.TrimSpace(page) == "" {
		t.Fatal("index.html is empty")
	}
	for _, want := range []string{"<html", "/status", "<script>", "<style>"} {
		if !strings.Contains(page, want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	// Everything must be inline: no absolute or protocol-relative URL anywhere, no
	// external script or stylesheet, no CSS import, no url() other than data:.
	forbidden := []*regexp.Regexp{
		regexp.MustCompile(`(?i)\bhttps?://`),
		regexp.MustCompile(`(?i)\b(src|href)\s*=\s*["']?\s*//`),
		regexp.MustCompile(`(?i)<script[^>]*\bsrc\s*=`),
		regexp.MustCompile(`(?i)<link[^>]*\brel\s*=\s*["']?stylesheet`),
		regexp.MustCompile(`(?i)@import`),
		regexp.MustCompile(`(?i)url\(\s*["']?\s*(?:[a-z][a-z0-9+.-]*:|//)`),
	}
	for _, re := range forbidden {
		for _, m := range re.FindAllString(page, -1) {
			if strings.Contains(strings.ToLower(m), "data:") {
				continue
			}
			t.Errorf("index.html loads something external: %q (pattern %s)", m, re)
		}
	}
	// The page holds the charts, the replay dialog and the test bench, by
	// hand and without a build step; it is in every binary.
	if len(Dashboard) > 48<<10 {
		t.Errorf("index.html is %d bytes; keep it under 48 KiB", len(Dashboard))
	}
}
