package handlers

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/folio-cms/folio/auth"
)

// TestSignedWebhookBehindPrefixStrippingProxy: Contentful calls
// https://example.com/folio/webhooks/contentful; a reverse proxy strips
// /folio and folio sees /webhooks/contentful. With the public URL set the
// signature verifies; without it the 401 and the log say what was checked.
func TestSignedWebhookBehindPrefixStrippingProxy(t *testing.T) {
	public, _ := url.Parse("https://example.com/folio")
	for _, tc := range []struct {
		name   string
		opts   []auth.SignatureOption
		status int
	}{
		{"with FOLIO_PUBLIC_URL", []auth.SignatureOption{auth.PublicURL(public)}, http.StatusAccepted},
		{"without it", nil, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHook(t, auth.NewGuard(auth.NewSignatureVerifier(signingSecret, 30*time.Second, tc.opts...), nil), 10)
			folio := httptest.NewServer(h.router)
			defer folio.Close()
			target, _ := url.Parse(folio.URL)
			proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.Out.URL.Path = strings.TrimPrefix(pr.In.URL.Path, "/folio")
				pr.Out.URL.RawPath = ""
			}})
			defer proxy.Close()

			body := publishBody("p-proxy-"+tc.name[:4], 2)
			req, _ := http.NewRequest(http.MethodPost, proxy.URL+"/folio/webhooks/contentful", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
			req.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish")
			auth.Sign(req, body, signingSecret, time.Now(), "Content-Type", "X-Contentful-Topic")
			res, err := proxy.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var answer errorBody
			json.NewDecoder(res.Body).Decode(&answer)
			if res.StatusCode != tc.status {
				t.Fatalf("%s: %+v", res.Status, answer)
			}
			if tc.status != http.StatusUnauthorized {
				return
			}
			msg := answer.Error.Message
			for _, want := range []string{"POST /webhooks/contentful",
				"content-type, x-contentful-signed-headers, x-contentful-timestamp, x-contentful-topic", "FOLIO_PUBLIC_URL"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the 401 does not say %q: %s", want, msg)
				}
			}
			if answer.Error.Code != "signature_mismatch" || res.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %v", answer.Error.Code, res.Header)
			}
			if !strings.Contains(testLogs.String(), `POST /webhooks/contentful, signed headers content-type`) {
				t.Errorf("the log does not say which path was checked")
			}
		})
	}
}
