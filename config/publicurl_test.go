package config

import (
	"errors"
	"strings"
	"testing"
)

func TestPublicURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://example.com":          "https://example.com",
		"https://example.com/":         "https://example.com",
		"https://example.com/folio":    "https://example.com/folio",
		"https://example.com/folio/":   "https://example.com/folio",
		"http://10.0.0.1:8080/a/b":     "http://10.0.0.1:8080/a/b",
		"https://example.com/f%20olio": "https://example.com/f%20olio",
	} {
		c, err := Load(env(map[string]string{"FOLIO_PUBLIC_URL": raw}))
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if got := c.PublicURL.String(); got != want {
			t.Errorf("%s: got %s, want %s", raw, got, want)
		}
	}
	if c, err := Load(env(nil)); err != nil || c.PublicURL != nil {
		t.Fatalf("unset: %v %v", c.PublicURL, err)
	}

	for raw, wantMsg := range map[string]string{
		"example.com/folio":                  "public base URL such as",
		"/folio":                             "public base URL such as",
		"ftp://example.com/":                 "public base URL such as",
		"https://example.com/folio?x=1":      "without a query",
		"https://example.com/folio?":         "without a query",
		"https://example.com/folio#top":      "without a query or fragment",
		"https://example.com//folio":         "without empty",
		"https://example.com/a/../folio":     "without empty",
		"https://example.com/./folio":        "without empty",
		"https://user:hunter2@example.com/x": "must not hold credentials",
		"https://:hunter2@example.com/x":     "must not hold credentials",
	} {
		_, err := Load(env(map[string]string{"FOLIO_PUBLIC_URL": raw}))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: accepted", raw)
			continue
		}
		msg := ce.Problems["FOLIO_PUBLIC_URL"]
		if !strings.Contains(msg, wantMsg) {
			t.Errorf("%s: %q does not say %q", raw, msg, wantMsg)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows the password: %v", raw, err)
		}
	}
}
