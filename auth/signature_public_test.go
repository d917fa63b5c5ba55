package auth

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestVerifyUnderPublicURL: behind a proxy that strips /folio, folio
// receives /webhooks/contentful for what Contentful signed as
// /folio/webhooks/contentful.
func TestVerifyUnderPublicURL(t *testing.T) {
	body := []byte(`{"sys":{"id":"abc"}}`)
	now := time.Now()
	// signed is what Contentful sends to the public URL; received is what
	// folio then sees.
	received := func(signedTarget, seenTarget string, signHeaders ...string) *http.Request {
		t.Helper()
		out := httptest.NewRequest(http.MethodPost, "https://example.com"+signedTarget, nil)
		out.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish")
		out.Header.Set("X-Secret-Header", "do-not-show-this-value")
		Sign(out, body, sigSecret, now, append([]string{"X-Contentful-Topic", "X-Secret-Header"}, signHeaders...)...)
		in := httptest.NewRequest(http.MethodPost, seenTarget, nil)
		in.Host = "folio.internal:8080"
		in.Header = out.Header.Clone()
		return in
	}
	verifier := func(public string) *SignatureVerifier {
		var opts []SignatureOption
		if public != "" {
			opts = append(opts, PublicURL(mustURL(t, public)))
		}
		v := NewSignatureVerifier(sigSecret, time.Minute, opts...)
		v.SetClock(func() time.Time { return now })
		return v
	}
	tests := []struct {
		name, public, signed, seen string
		headers                    []string
		want                       string
	}{
		{"prefix stripped", "https://example.com/folio", "/folio/webhooks/contentful", "/webhooks/contentful", nil, ""},
		{"prefix with a trailing slash", "https://example.com/folio/", "/folio/webhooks/contentful", "/webhooks/contentful", nil, ""},
		{"deeper prefix and a query", "https://example.com/a/b", "/a/b/webhooks/contentful?x=1&y=2", "/webhooks/contentful?x=1&y=2", nil, ""},
		{"escaped prefix", "https://example.com/f%20o", "/f%20o/webhooks/contentful", "/webhooks/contentful", nil, ""},
		{"no prefix: the host only", "https://example.com", "/webhooks/contentful", "/webhooks/contentful", nil, ""},
		{"signed Host is the public one", "https://example.com/folio", "/folio/webhooks/contentful", "/webhooks/contentful", []string{"Host"}, ""},
		{"without the setting", "", "/folio/webhooks/contentful", "/webhooks/contentful", nil, "signature_mismatch"},
		{"the wrong prefix", "https://example.com/other", "/folio/webhooks/contentful", "/webhooks/contentful", nil, "signature_mismatch"},
		{"a proxy that did not strip", "https://example.com/folio", "/folio/webhooks/contentful", "/folio/webhooks/contentful", nil, "signature_mismatch"},
		{"signed Host without the setting", "", "/webhooks/contentful", "/webhooks/contentful", []string{"Host"}, "signature_mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := verifier(tc.public).Verify(received(tc.signed, tc.seen, tc.headers...), body)
			if got := sigCode(err); got != tc.want {
				t.Fatalf("got %q, want %q (%v)", got, tc.want, err)
			}
		})
	}
	if p := verifier("https://example.com/folio/").PublicPath(); p != "/folio" {
		t.Errorf("PublicPath %q", p)
	}
	if p := verifier("").PublicPath(); p != "" {
		t.Errorf("PublicPath %q", p)
	}
}

// TestMismatchSaysWhatWasChecked: the 401's reason names the method, the
// rebuilt path and the signed header names, and nothing secret.
func TestMismatchSaysWhatWasChecked(t *testing.T) {
	body := []byte(`{}`)
	now := time.Now()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/contentful?token=hunter2-query-secret", nil)
	req.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish")
	req.Header.Set("Authorization", "Basic c2VjcmV0LWhlYWRlci12YWx1ZQ==")
	Sign(req, body, strings.Repeat("b", 64), now, "X-Contentful-Topic", "Authorization")
	sig := req.Header.Get(HeaderSignature)

	for _, tc := range []struct {
		public string
		want   []string
	}{
		{"", []string{"POST /webhooks/contentful with a query of 26 bytes (not shown)",
			"signed headers authorization, x-contentful-signed-headers, x-contentful-timestamp, x-contentful-topic",
			"set FOLIO_PUBLIC_URL"}},
		{"https://example.com/folio", []string{"POST /folio/webhooks/contentful with a query",
			"the received /webhooks/contentful under the public URL's path /folio"}},
	} {
		var opts []SignatureOption
		if tc.public != "" {
			opts = append(opts, PublicURL(mustURL(t, tc.public)))
		}
		v := NewSignatureVerifier(sigSecret, time.Minute, opts...)
		v.SetClock(func() time.Time { return now })
		err := v.Verify(req, body)
		if sigCode(err) != "signature_mismatch" {
			t.Fatalf("%v", err)
		}
		reason := err.(*Error).Reason
		for _, w := range tc.want {
			if !strings.Contains(reason, w) {
				t.Errorf("reason %q lacks %q", reason, w)
			}
		}
		for _, secret := range []string{"hunter2", sig, sigSecret, "c2VjcmV0", "ContentManagement.Entry.publish", "bbbbbbbb"} {
			if strings.Contains(reason, secret) || strings.Contains(err.Error(), secret) {
				t.Errorf("reason shows %q: %s", secret, reason)
			}
		}
	}

	// A hostile path and header list stay short.
	long := httptest.NewRequest(http.MethodPost, "/"+strings.Repeat("p", 5000), nil)
	var names []string
	for i := range 40 {
		names = append(names, "x-h"+strings.Repeat("n", 100)+string(rune('a'+i%26))+string(rune('a'+i/26)))
		long.Header.Set(names[i], "v")
	}
	Sign(long, body, strings.Repeat("b", 64), now, names...)
	v := NewSignatureVerifier(sigSecret, time.Minute)
	v.SetClock(func() time.Time { return now })
	err := v.Verify(long, body)
	if sigCode(err) != "signature_mismatch" {
		t.Fatalf("%v", err)
	}
	if r := err.(*Error).Reason; len(r) > 2000 || !strings.Contains(r, "and 26 more") {
		t.Errorf("reason of %d bytes: %.300s", len(r), r)
	}
}

// TestSignAs signs a path other than the request's own: a command sending
// straight to a folio whose public URL has a prefix.
func TestSignAs(t *testing.T) {
	body := []byte(`{"x":1}`)
	now := time.Now()
	req, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/admin/refresh?a=b", nil)
	SignAs(req, "/folio/admin/refresh?a=b", body, sigSecret, now)
	v := NewSignatureVerifier(sigSecret, time.Minute, PublicURL(mustURL(t, "https://example.com/folio")))
	v.SetClock(func() time.Time { return now })
	in := httptest.NewRequest(http.MethodPost, "/admin/refresh?a=b", nil)
	in.Header = req.Header
	if err := v.Verify(in, body); err != nil {
		t.Fatalf("SignAs: %v", err)
	}
	if req.RequestURI != "" {
		t.Fatal("SignAs left RequestURI set: a client cannot send the request")
	}
}
