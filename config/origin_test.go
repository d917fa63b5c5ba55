package config

import (
	"slices"
	"strings"
	"testing"
)

// An origin is configured as an operator types it and compared with what a
// browser sends: the two must meet.
func TestParseOriginNormalises(t *testing.T) {
	for raw, want := range map[string]string{
		"https://example.com":           "https://example.com",
		"https://example.com/":          "https://example.com",
		"HTTPS://Example.COM":           "https://example.com",
		"https://WWW.Example.com/":      "https://www.example.com",
		"https://example.com:443":       "https://example.com",
		"http://example.com:80":         "http://example.com",
		"http://example.com:443":        "http://example.com:443",
		"https://example.com:8443":      "https://example.com:8443",
		"https://example.com:08443":     "https://example.com:8443",
		"http://localhost:3000":         "http://localhost:3000",
		"http://127.0.0.1:5173/":        "http://127.0.0.1:5173",
		"http://[::1]:8080":             "http://[::1]:8080",
		"http://[0:0:0:0:0:0:0:1]":      "http://[::1]",
		"https://xn--bcher-kva.example": "https://xn--bcher-kva.example",
		"https://example.com:":          "https://example.com",
	} {
		got, err := ParseOrigin(raw)
		if err != nil || got != want {
			t.Errorf("ParseOrigin(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
}

func TestParseOriginRefusesWhatCannotBeAnOrigin(t *testing.T) {
	for raw, why := range map[string]string{
		"https://example.com/app":     "path",
		"https://example.com//":       "path",
		"https://example.com?x=1":     "query",
		"https://example.com/#top":    "fragment",
		"https://example.com#":        "fragment",
		"https://*.example.com":       "wildcard",
		"https://user:pw@example.com": "credentials",
		"ftp://example.com":           "scheme",
		"chrome-extension://abc":      "scheme",
		"example.com":                 "not an origin",
		"//example.com":               "scheme",
		"null":                        "sandboxed",
		"https://bücher.example":      "ASCII",
		"https://example.com:0":       "port",
		"https://example.com:70000":   "port",
		"https://exa mple.com":        "not an origin",
		"http://[::1":                 "not an origin",
	} {
		_, err := ParseOrigin(raw)
		if err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("ParseOrigin(%q) = %v, want an error about %s", raw, err, why)
		}
		if err != nil && strings.Contains(err.Error(), "pw@") {
			t.Errorf("ParseOrigin(%q) repeats credentials: %v", raw, err)
		}
	}
}

func TestCORSOriginsSetting(t *testing.T) {
	c, err := Load(env(map[string]string{"FOLIO_CORS_ORIGINS": "HTTPS://Site.Example/, https://site.example:443, *, http://localhost:3000"}))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"https://site.example", "*", "http://localhost:3000"}; !slices.Equal(c.CORSOrigins, want) {
		t.Fatalf("CORSOrigins = %q, want %q", c.CORSOrigins, want)
	}
	_, err = Load(env(map[string]string{"FOLIO_CORS_ORIGINS": "https://ok.example, https://*.example.com"}))
	if err == nil || !strings.Contains(err.Error(), "FOLIO_CORS_ORIGINS: ") || !strings.Contains(err.Error(), "wildcards") {
		t.Fatalf("a wildcard origin must stop start-up, naming the variable: %v", err)
	}
}

// The same kind as an upper-case origin: AUTH0_DOMAIN typed in capitals
// made an issuer no Auth0 token carries (iss is compared exactly).
func TestAuth0DomainIsLowerCased(t *testing.T) {
	c, err := Load(env(map[string]string{"AUTH0_DOMAIN": "Tenant.EU.Auth0.com", "AUTH0_AUDIENCE": "https://folio/api"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth0IssuerURL != "https://tenant.eu.auth0.com/" {
		t.Fatalf("issuer %q", c.Auth0IssuerURL)
	}
}
