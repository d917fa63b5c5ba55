package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

func TestSignedTarget(t *testing.T) {
	for _, tc := range []struct{ public, target, want string }{
		{"", "http://127.0.0.1:8080/webhooks/contentful", "/webhooks/contentful"},
		{"https://example.com", "http://127.0.0.1:8080/webhooks/contentful?a=b", "/webhooks/contentful?a=b"},
		{"https://example.com/folio", "http://127.0.0.1:8080/webhooks/contentful", "/folio/webhooks/contentful"},
		{"https://example.com/folio/", "http://127.0.0.1:8080/admin/refresh?x=1", "/folio/admin/refresh?x=1"},
		{"https://example.com/folio", "https://example.com/folio/webhooks/contentful", "/folio/webhooks/contentful"},
		{"https://example.com/folio", "https://EXAMPLE.com/folio/admin/refresh", "/folio/admin/refresh"},
		{"https://example.com/folio", "https://example.com/folioX/webhooks/contentful", "/folioX/webhooks/contentful"},
		{"https://example.com/folio", "http://127.0.0.1:9000/folioX/webhooks/contentful", "/folio/folioX/webhooks/contentful"},
		{"https://example.com/folio", "http://127.0.0.1:9000/folio/webhooks/contentful", "/folio/webhooks/contentful"},
		{"https://example.com/folio", "https://example.com/webhooks/contentful", "/webhooks/contentful"},
	} {
		u, _ := url.Parse(tc.target)
		got, err := signedTarget(u, envOf(map[string]string{"FOLIO_PUBLIC_URL": tc.public}))
		if err != nil || got != tc.want {
			t.Errorf("public %q, target %s: got %q %v, want %q", tc.public, tc.target, got, err, tc.want)
		}
	}
	u, _ := url.Parse("http://127.0.0.1:8080/webhooks/contentful")
	_, err := signedTarget(u, envOf(map[string]string{"FOLIO_PUBLIC_URL": "example.com/folio"}))
	var ue usageError
	if !errors.As(err, &ue) {
		t.Fatalf("a bad FOLIO_PUBLIC_URL: %v", err)
	}
}

// TestPublicURLEndToEnd runs folio (demo mode) with FOLIO_PUBLIC_URL behind
// a real reverse proxy that strips /folio: Contentful-style calls through
// the proxy, and folio webhook send and folio refresh both through the
// proxy and straight to FOLIO_ADDR, are all signed for the path folio
// checks.
func TestPublicURLEndToEnd(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, logs := runDemo(t, map[string]string{"FOLIO_PUBLIC_URL": "https://example.com/folio"})
	base := "http://" + addr
	target, _ := url.Parse(base)
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/folio")
		pr.Out.URL.RawPath = ""
	}})
	defer proxy.Close()

	secret := logField(t, logs.String(), "secret")
	if try := logField(t, logs.String(), "try"); !strings.Contains(try, "FOLIO_PUBLIC_URL=https://example.com/folio ") {
		t.Errorf("the demo's example command lacks the public URL: %s", try)
	}
	var blog struct {
		Items []struct {
			ID       string
			Revision int
		}
	}
	getJSON(t, proxy.URL+"/folio/blog", &blog)
	env := envOf(map[string]string{"CONTENTFUL_WEBHOOK_SECRET": secret, "FOLIO_ADDR": addr,
		"FOLIO_PUBLIC_URL": "https://example.com/folio"})
	send := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, args, env, &out, io.Discard); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	hook := []string{"webhook", "send", "--type", "blogPost", "--id", blog.Items[0].ID, "--revision", fmt.Sprint(blog.Items[0].Revision)}
	if out := send(append(hook, "--url", proxy.URL+"/folio/webhooks/contentful")...); !strings.Contains(out, "202 Accepted") {
		t.Fatalf("through the proxy: %s", out)
	}
	if out := send(append(hook, "--revision", fmt.Sprint(blog.Items[0].Revision+1))...); !strings.Contains(out, "202 Accepted") {
		t.Fatalf("straight to FOLIO_ADDR: %s", out)
	}
	if out := send("refresh", "--url", proxy.URL+"/folio/admin/refresh"); !strings.Contains(out, "202") {
		t.Fatalf("refresh through the proxy: %s", out)
	}
	if out := send("refresh"); !strings.Contains(out, "202") {
		t.Fatalf("refresh straight to FOLIO_ADDR: %s", out)
	}

	// Signed without knowing the public URL: refused, saying what was checked.
	var out bytes.Buffer
	err := run(ctx, append(hook, "--url", base+"/webhooks/contentful"), envOf(map[string]string{"CONTENTFUL_WEBHOOK_SECRET": secret}), &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "signature_mismatch") || !strings.Contains(out.String(), "POST /folio/webhooks/contentful") {
		t.Fatalf("unaware of the public URL: %v\n%s", err, out.String())
	}
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(m), "\nfolio_webhook_auth_degraded 0\n") {
		t.Errorf("/metrics lacks folio_webhook_auth_degraded 0")
	}
	res, err = http.Get(proxy.URL + "/folio/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(page), `<base href="/folio/">`) {
		t.Errorf("the dashboard does not name its public path")
	}
	var st struct {
		Auth struct{ SignedPathPrefix string }
	}
	getJSON(t, proxy.URL+"/folio/status", &st)
	if st.Auth.SignedPathPrefix != "/folio" {
		t.Fatalf("/status auth: %+v", st.Auth)
	}
}
