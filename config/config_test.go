package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestDefaultsAreDemoMode(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Demo || c.Addr != ":8080" || c.Environment != "master" || c.BaseURL != DefaultBaseURL ||
		c.BlogType != "blogPost" || c.SlugField != "slug" || c.BlogOrder != "-fields.publishDate" ||
		c.WebhookMaxAge != 30*time.Second || c.Auth0Enabled() {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if got := strings.Join(c.CVTypes, ","); got != "profile,experience,education,skill,project" {
		t.Fatalf("CVTypes = %s", got)
	}
}

func TestSpaceSetMeansNoDemo(t *testing.T) {
	c, err := Load(env(map[string]string{"CONTENTFUL_SPACE_ID": "abc123", "CONTENTFUL_ACCESS_TOKEN": "tok"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Demo || c.SpaceID != "abc123" || c.AccessToken.Reveal() != "tok" {
		t.Fatalf("got %+v", c)
	}
}

func TestErrorNamesEveryBadVariable(t *testing.T) {
	_, err := Load(env(map[string]string{
		"FOLIO_ADDR":                "nonsense",
		"CONTENTFUL_SPACE_ID":       "abc",
		"CONTENTFUL_BASE_URL":       "ftp://x",
		"FOLIO_CV_TYPES":            "profile,blogPost",
		"FOLIO_BLOG_ORDER":          "publishDate",
		"FOLIO_WEBHOOK_MAX_AGE":     "soon",
		"CONTENTFUL_WEBHOOK_SECRET": "short-secret-value",
		"AUTH0_DOMAIN":              "https://tenant.auth0.com/",
		"REDIS_URL":                 "http://user:hunter2@redis:6379",
		"FOLIO_CORS_ORIGINS":        "https://ok.example, not an origin",
		"FOLIO_LOG_FORMAT":          "xml",
	}))
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("want *Error, got %v", err)
	}
	for _, name := range []string{"FOLIO_ADDR", "CONTENTFUL_ACCESS_TOKEN", "CONTENTFUL_BASE_URL", "FOLIO_CV_TYPES",
		"FOLIO_BLOG_ORDER", "FOLIO_WEBHOOK_MAX_AGE", "CONTENTFUL_WEBHOOK_SECRET", "AUTH0_DOMAIN", "REDIS_URL",
		"FOLIO_CORS_ORIGINS", "FOLIO_LOG_FORMAT"} {
		if !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	for _, secret := range []string{"short-secret-value", "hunter2"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error reveals a secret %q:\n%v", secret, err)
		}
	}
}

func TestAuth0(t *testing.T) {
	c, err := Load(env(map[string]string{"AUTH0_DOMAIN": "tenant.eu.auth0.com", "AUTH0_AUDIENCE": "https://folio/api",
		"FOLIO_AUTH0_ALLOWED_CLIENTS": "a, b,,a", "FOLIO_AUTH0_REQUIRED_SCOPE": "regenerate"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth0IssuerURL != "https://tenant.eu.auth0.com/" || strings.Join(c.Auth0AllowedClients, ",") != "a,b" ||
		c.Auth0RequiredScope != "regenerate" {
		t.Fatalf("got %+v", c)
	}
	c, err = Load(env(map[string]string{"AUTH0_DOMAIN": "x.auth0.com", "AUTH0_ISSUER_URL": "http://127.0.0.1:9/", "AUTH0_AUDIENCE": "a"}))
	if err != nil || c.Auth0IssuerURL != "http://127.0.0.1:9/" {
		t.Fatalf("AUTH0_ISSUER_URL must win as-is: %v %q", err, c.Auth0IssuerURL)
	}
	_, err = Load(env(map[string]string{"AUTH0_DOMAIN": "x.auth0.com"}))
	if err == nil || !strings.Contains(err.Error(), "AUTH0_AUDIENCE:") {
		t.Fatalf("missing audience not reported: %v", err)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	if err := os.WriteFile(path, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(env(map[string]string{"CONTENTFUL_SPACE_ID": "s", "CONTENTFUL_ACCESS_TOKEN_FILE": path}))
	if err != nil || c.AccessToken.Reveal() != "from-file" {
		t.Fatalf("got %v %q", err, c.AccessToken.Reveal())
	}
	_, err = Load(env(map[string]string{"CONTENTFUL_SPACE_ID": "s", "CONTENTFUL_ACCESS_TOKEN_FILE": filepath.Join(dir, "missing")}))
	if err == nil || !strings.Contains(err.Error(), "CONTENTFUL_ACCESS_TOKEN_FILE:") || strings.Contains(err.Error(), "CONTENTFUL_ACCESS_TOKEN:") {
		t.Fatalf("want the _FILE variable named once: %v", err)
	}
	_, err = Load(env(map[string]string{"CONTENTFUL_SPACE_ID": "s", "CONTENTFUL_ACCESS_TOKEN": "x", "CONTENTFUL_ACCESS_TOKEN_FILE": path}))
	if err == nil || !strings.Contains(err.Error(), "not both") {
		t.Fatalf("both set must be an error: %v", err)
	}
}

func TestSecretNeverPrints(t *testing.T) {
	c, err := Load(env(map[string]string{"CONTENTFUL_SPACE_ID": "s", "CONTENTFUL_ACCESS_TOKEN": "tok-123",
		"CONTENTFUL_WEBHOOK_SECRET": strings.Repeat("a", 64)}))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		out := sprintf(format, c)
		if strings.Contains(out, "tok-123") || strings.Contains(out, strings.Repeat("a", 64)) {
			t.Fatalf("%s reveals a secret: %s", format, out)
		}
	}
}

func sprintf(format string, v any) string { return fmt.Sprintf(format, v) }
