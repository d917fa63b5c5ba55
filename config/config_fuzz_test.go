package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// FuzzLoad runs Load on environments built from the input, one
// NAME=VALUE a line; a secret's NAME_FILE=CONTENT line puts CONTENT in a
// file and sets NAME_FILE to its path. Whatever the values:
//
//   - Load does not panic, and fails only with an *Error that names
//     variables;
//   - neither the error, nor a loaded Config printed with %v, %+v, %#v or
//     as JSON, holds a secret's value (of 8 bytes or more, and not also
//     part of a value that is not secret), or the password of REDIS_URL,
//     unless it shows just the same with the secret masked;
//   - a loaded Config keeps its ranges.
//
// The secrets are the variables config.go reads with r.secret.
func FuzzLoad(f *testing.F) {
	src, err := os.ReadFile("config.go")
	if err != nil {
		f.Fatal(err)
	}
	var secrets []string
	for _, m := range regexp.MustCompile(`r\.secret\("([A-Z0-9_]+)"\)`).FindAllStringSubmatch(string(src), -1) {
		secrets = append(secrets, m[1])
	}
	if len(secrets) < 3 {
		f.Fatalf("found only %v as secrets in config.go", secrets)
	}
	key := strings.Repeat("k3y-", 16)
	for _, s := range []string{
		"",
		"CONTENTFUL_SPACE_ID=space1\nCONTENTFUL_ACCESS_TOKEN=tok-0123456789abcdef",
		"CONTENTFUL_SPACE_ID=space1\nCONTENTFUL_ACCESS_TOKEN_FILE=tok-0123456789abcdef\r\n",
		"CONTENTFUL_SPACE_ID=space1\nCONTENTFUL_ACCESS_TOKEN=a\nCONTENTFUL_ACCESS_TOKEN_FILE=b",
		"CONTENTFUL_WEBHOOK_SECRET=" + key + "\nFOLIO_WEBHOOK_MAX_AGE=45s",
		"CONTENTFUL_WEBHOOK_SECRET=" + key[:63] + "!",
		"CONTENTFUL_WEBHOOK_SECRET_FILE=",
		"REDIS_URL=redis://user:pa55word-xyz@redis:6379/0",
		"REDIS_URL=http://user:pa55word-xyz@redis:6379/0",
		"REDIS_URL=redis://user:pa55word-xyz@[::1:6379/0",
		"REDIS_URL=rediss://:pa55word-xyz@redis:6379?addr=r2:6379&master_name=m",
		"FOLIO_ADDR=:8080\nFOLIO_BLOG_PAGE_SIZE=1001\nFOLIO_LINK_DEPTH=0\nFOLIO_CDN_WAIT=-1s\nFOLIO_REFRESH_INTERVAL=0",
		"FOLIO_CV_TYPES=profile,blogPost\nFOLIO_BLOG_TYPE=blogPost\nFOLIO_BLOG_ORDER=-fields.date,sys.createdAt",
		"AUTH0_DOMAIN=tenant.eu.auth0.com\nAUTH0_AUDIENCE=https://folio.example/api\nFOLIO_AUTH0_ALLOWED_CLIENTS=a,b",
		"AUTH0_ISSUER_URL=https://user:pw@issuer.example/\nAUTH0_AUDIENCE=x",
		"FOLIO_CORS_ORIGINS=https://A.example, *, http://b.example/\nFOLIO_LOG_FORMAT=yaml",
		"CONTENTFUL_BASE_URL=https://preview.contentful.com/\nCONTENTFUL_ENVIRONMENT=staging.1\nCONTENTFUL_LOCALE=en-US",
		"FOLIO_BLOG_LIST=full\nFOLIO_BLOG_SUMMARY_FIELDS=title,,slug,bad field",
	} {
		f.Add(s)
	}
	dir := f.TempDir()
	isSecret := func(name string) bool {
		for _, s := range secrets {
			if name == s {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, input string) {
		// load builds the environment, with hide replaced by a mask of its
		// length in every secret (none when ""), and returns what Load's
		// outcome shows: the error, or the Config printed.
		load := func(hide string) (shown []string, secretValue map[string]string, plain []string) {
			secretValue = map[string]string{}
			env := map[string]string{}
			masked := func(v string) string {
				if hide == "" {
					return v
				}
				mask := "Z"
				if strings.Contains(hide, "Z") {
					mask = "q"
				}
				return strings.ReplaceAll(v, hide, strings.Repeat(mask, len(hide)))
			}
			for i, line := range strings.Split(input, "\n") {
				name, value, _ := strings.Cut(line, "=")
				plain = append(plain, name)
				if base, ok := strings.CutSuffix(name, "_FILE"); ok && isSecret(base) {
					path := filepath.Join(dir, fmt.Sprintf("%d", i))
					if err := os.WriteFile(path, []byte(masked(value)), 0o600); err != nil {
						t.Fatal(err)
					}
					env[name] = path
					secretValue[name] = strings.TrimRight(value, "\r\n")
					plain = append(plain, path)
					continue
				}
				if isSecret(name) {
					env[name] = masked(value)
					secretValue[name] = value
				} else {
					env[name] = value
					plain = append(plain, value)
				}
			}
			cfg, err := Load(func(name string) (string, bool) { v, ok := env[name]; return v, ok })
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) || len(ce.Problems) == 0 {
					t.Fatalf("not an *Error naming variables: %#v", err)
				}
				return []string{err.Error()}, secretValue, plain
			}
			b, jerr := json.Marshal(cfg)
			if jerr != nil {
				t.Fatalf("a loaded Config does not marshal: %v", jerr)
			}
			if cfg.BlogPageSize < 1 || cfg.BlogPageSize > 1000 || cfg.LinkDepth < 1 || cfg.LinkDepth > 10 ||
				cfg.WebhookMaxAge <= 0 || cfg.CDNWait <= 0 || cfg.DedupWindow <= 0 || cfg.RefreshEvery < 0 {
				t.Fatalf("a loaded Config out of its ranges: %+v", cfg)
			}
			return []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), string(b)}, secretValue, plain
		}
		shown, secretValue, plain := load("")

		var hidden []string
		for _, v := range secretValue {
			hidden = append(hidden, v)
			if u, perr := url.Parse(v); perr == nil && u.User != nil {
				if pw, ok := u.User.Password(); ok {
					hidden = append(hidden, pw)
				}
			}
		}
		for _, h := range hidden {
			if len(h) < 8 || containedIn(h, plain) || !containedIn(h, shown) {
				continue
			}
			// Shown: an echo, unless it still shows with the secret
			// masked (folio's own text holds the same bytes: "00000000"
			// in a duration of nanoseconds).
			if again, _, _ := load(h); !containedIn(h, again) {
				t.Fatalf("a secret value (%q) shows in:\n%s", h, strings.Join(shown, "\n"))
			}
		}
	})
}

func containedIn(s string, in []string) bool {
	for _, x := range in {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}
