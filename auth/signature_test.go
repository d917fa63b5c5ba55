package auth

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The vectors of CONTENTFUL.md: secret 64 × "a", timestamp 1603379941037.
var (
	sigSecret = strings.Repeat("a", 64)
	sigTS     = int64(1603379941037)
	sigT0     = time.UnixMilli(sigTS)
)

func sigHex(secret, canonical string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(canonical))
	return hex.EncodeToString(mac.Sum(nil))
}

func sigCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if !errors.As(err, &e) {
		return fmt.Sprintf("not an *Error: %v", err)
	}
	return e.Code
}

func sigVerifierAt(secret string, maxAge time.Duration, now time.Time) *SignatureVerifier {
	v := NewSignatureVerifier(secret, maxAge)
	v.SetClock(func() time.Time { return now })
	return v
}

// TestSignatureVectors checks both vectors of CONTENTFUL.md: the canonical
// request (as Contentful's reference implementation, run under Node, builds
// it), its HMAC, and Verify on a request carrying the vector's signature.
func TestSignatureVectors(t *testing.T) {
	ts := strconv.FormatInt(sigTS, 10)
	tests := []struct {
		name      string
		method    string
		target    string
		headers   [][2]string // without the two signing headers
		body      string
		canonical string
		signature string
	}{
		{
			name:   "GET without headers or body",
			method: "GET", target: "/api/resources/1",
			canonical: "GET\n/api/resources/1\n" +
				"x-contentful-signed-headers:x-contentful-signed-headers,x-contentful-timestamp;" +
				"x-contentful-timestamp:1603379941037\n",
			signature: "3b21d63c31a2a92d38945394da0b1a2a0dc2d9bf13ef4dfd91b9f3fa1440b404",
		},
		{
			name:   "POST webhook",
			method: "POST", target: "/webhooks/contentful",
			headers: [][2]string{
				{"Content-Type", "application/vnd.contentful.management.v1+json"},
				{"X-Contentful-Topic", "ContentManagement.Entry.publish"},
				{"x-contentful-webhook-request-attempt", "1"},
			},
			body: `{"sys":{"type":"Entry","id":"abc"}}`,
			canonical: "POST\n/webhooks/contentful\n" +
				"content-type:application/vnd.contentful.management.v1+json;" +
				"x-contentful-signed-headers:content-type,x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic,x-contentful-webhook-request-attempt;" +
				"x-contentful-timestamp:1603379941037;" +
				"x-contentful-topic:ContentManagement.Entry.publish;" +
				"x-contentful-webhook-request-attempt:1\n" +
				`{"sys":{"type":"Entry","id":"abc"}}`,
			signature: "53891cda7bbce743095fddc67cf3df58ab15c3b8dab85e419893fe6736e44cbb",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			names := []string{HeaderSignedHeaders, HeaderTimestamp}
			for _, h := range tt.headers {
				names = append(names, strings.ToLower(h[0]))
			}
			list := strings.Join(sortedCopy(names), ",")
			headers := append([][2]string{{HeaderTimestamp, ts}, {HeaderSignedHeaders, list}}, tt.headers...)

			canonical := CanonicalRequest(tt.method, tt.target, headers, []byte(tt.body))
			if canonical != tt.canonical {
				t.Fatalf("canonical request\n got %q\nwant %q", canonical, tt.canonical)
			}
			if got := sigHex(sigSecret, canonical); got != tt.signature {
				t.Fatalf("HMAC = %s, want %s", got, tt.signature)
			}

			req := httptest.NewRequest(tt.method, tt.target, strings.NewReader(tt.body))
			for _, h := range headers {
				req.Header.Set(h[0], h[1])
			}
			req.Header.Set(HeaderSignature, tt.signature)
			for _, now := range []time.Time{sigT0, sigT0.Add(29 * time.Second)} {
				if err := sigVerifierAt(sigSecret, 30*time.Second, now).Verify(req, []byte(tt.body)); err != nil {
					t.Errorf("Verify at %v: %v", now.Sub(sigT0), err)
				}
			}

			// Sign at the vector's time produces the vector's signature.
			signed := httptest.NewRequest(tt.method, tt.target, nil)
			var given []string
			for _, h := range tt.headers {
				signed.Header.Set(h[0], h[1])
				given = append(given, h[0])
			}
			Sign(signed, []byte(tt.body), sigSecret, sigT0, given...)
			if got := signed.Header.Get(HeaderSignature); got != tt.signature {
				t.Errorf("Sign = %s, want %s", got, tt.signature)
			}
			if got := signed.Header.Get(HeaderSignedHeaders); got != list {
				t.Errorf("Sign's signed headers = %q, want %q", got, list)
			}
		})
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := 1; i < len(c); i++ {
		for j := i; j > 0 && c[j] < c[j-1]; j-- {
			c[j], c[j-1] = c[j-1], c[j]
		}
	}
	return c
}

// TestCanonicalPath compares the path encoding with the output of the
// reference's getNormalizedEncodedURI (querystring.escape, then encodeURI)
// run under Node 20 for the same input.
func TestCanonicalPath(t *testing.T) {
	tests := []struct{ target, want string }{
		{"/webhooks/contentful", "/webhooks/contentful"},
		{"/webhooks/contentful?q=1&w=2", "/webhooks/contentful?q%253D1%2526w%253D2"},
		{"/webhooks/café", "/webhooks/caf%C3%A9"},
		{"/webhooks/caf%C3%A9", "/webhooks/caf%25C3%25A9"},
		{"/webhooks/caf%C3%A9?x=é&y=%20 ;#", "/webhooks/caf%25C3%25A9?x%253D%25C3%25A9%2526y%253D%252520%2520%253B%2523"},
		{"/😀?😀", "/%F0%9F%98%80?%25F0%259F%2598%2580"},
		{"/hooks/a|b?q=1&w=2", "/hooks/a%7Cb?q%253D1%2526w%253D2"},
		{"/webhooks/contentful?token=a%2Bb/c=&x", "/webhooks/contentful?token%253Da%25252Bb%252Fc%253D%2526x"},
		{"/a%2F%2fb;c?x=%zz", "/a%252F%252fb;c?x%253D%2525zz"},
		{"/p!*'();:@&=+$,#[]{}|^`\"<> ~?!*'()[]{}",
			"/p!*'();:@&=+$,#%5B%5D%7B%7D%7C%5E%60%22%3C%3E%20~?!*'()%255B%255D%257B%257D"},
		// An empty query drops the "?", as in the reference.
		{"/a?", "/a"},
		// Divergence: the reference splits at every "?" and keeps two pieces
		// ("/a?b?c" signs as "/a?b", "/a??b" as "/a"); folio signs the
		// whole query after the first "?".
		{"/a?b?c", "/a?b%253Fc"},
		{"/a??b", "/a?%253Fb"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			got := CanonicalRequest("post", tt.target, nil, nil)
			want := "POST\n" + tt.want + "\n\n"
			if got != want {
				t.Errorf("CanonicalRequest path\n got %q\nwant %q", got, want)
			}
		})
	}
}

// TestCanonicalHeaders: names lower-cased and trimmed, values trimmed,
// sorted by name, and a repeated name keeps its last value.
func TestCanonicalHeaders(t *testing.T) {
	got := CanonicalRequest("GET", "/", [][2]string{
		{" X-B ", " two\u00a0"}, {"x-a", "\tone "}, {"X-C", "first"}, {"x-c", "last"},
	}, []byte("body"))
	want := "GET\n/\nx-a:one;x-b:two;x-c:last\nbody"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// sigRequest is a typical signed webhook: a JSON body and three signed
// webhook headers plus the two signing headers.
func sigRequest(t testing.TB, target string, body []byte, at time.Time) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, target, nil)
	req.Header.Set("Content-Type", "application/vnd.contentful.management.v1+json")
	req.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish")
	req.Header.Set("X-Contentful-Webhook-Name", "folio")
	req.Header.Set("X-Contentful-Idempotency-Key", "unsigned")
	Sign(req, body, sigSecret, at, "Content-Type", "X-Contentful-Topic", "X-Contentful-Webhook-Name")
	return req
}

func TestVerify(t *testing.T) {
	const maxAge = 30 * time.Second
	body := []byte(`{"sys":{"type":"Entry","id":"abc","revision":3}}`)
	signedList := "content-type,x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic,x-contentful-webhook-name"

	tests := []struct {
		name    string
		target  string                     // default /webhooks/contentful
		at      time.Duration              // verifier clock minus signing time
		secret  string                     // verifier secret, default sigSecret
		edit    func(r *http.Request)      // applied after signing
		body    func(b []byte) []byte      // body given to Verify
		verify  func(v *SignatureVerifier) // extra setup
		want    string
		wantErr Kind
	}{
		{name: "round trip", want: ""},
		{name: "round trip with query string", target: "/webhooks/contentful?q=1&w=2", want: ""},
		{name: "round trip with non-ASCII path", target: "/webhooks/caf%C3%A9/%F0%9F%98%80", want: ""},
		{name: "unsigned header may change", edit: func(r *http.Request) { r.Header.Set("X-Contentful-Idempotency-Key", "other") }},
		{name: "lower-case method", edit: func(r *http.Request) { r.Method = "post" }},
		{name: "upper-case hex signature", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignature, strings.ToUpper(r.Header.Get(HeaderSignature)))
		}},
		{name: "header names stored in any case", edit: func(r *http.Request) {
			v := r.Header.Get("X-Contentful-Topic")
			r.Header.Del("X-Contentful-Topic")
			r.Header["x-contentful-TOPIC"] = []string{v}
		}},
		{name: "signed headers listed in any case and spacing", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignedHeaders, " "+strings.ReplaceAll(strings.ToUpper(signedList), ",", " , ")+" ")
		}, want: "signature_mismatch"}, // the list is a signed value: its bytes count
		{name: "padded values are trimmed", edit: func(r *http.Request) {
			// 0xA0 is a no-break space in Latin-1, as Node reads header bytes.
			r.Header.Set("X-Contentful-Topic", "\xa0ContentManagement.Entry.publish\t")
		}},
		{name: "UTF-8 no-break space is not white space in Latin-1", edit: func(r *http.Request) {
			r.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish\u00a0")
		}, want: "signature_mismatch"},

		{name: "tampered body", body: func(b []byte) []byte { return append(b[:len(b)-2:len(b)-2], "4}"...) }, want: "signature_mismatch"},
		{name: "empty body", body: func([]byte) []byte { return nil }, want: "signature_mismatch"},
		{name: "tampered signed header", edit: func(r *http.Request) {
			r.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.delete")
		}, want: "signature_mismatch"},
		{name: "signed header repeated", edit: func(r *http.Request) {
			r.Header.Add("X-Contentful-Topic", "ContentManagement.Entry.delete")
		}, want: "signature_mismatch"},
		{name: "tampered path", target: "/webhooks/contentful", edit: func(r *http.Request) {
			r.RequestURI = "/webhooks/contentful/other"
		}, want: "signature_mismatch"},
		{name: "tampered query", target: "/webhooks/contentful?q=1", edit: func(r *http.Request) {
			r.RequestURI = "/webhooks/contentful?q=2"
		}, want: "signature_mismatch"},
		{name: "tampered method", edit: func(r *http.Request) { r.Method = http.MethodPut }, want: "signature_mismatch"},
		{name: "signed header dropped from the request", edit: func(r *http.Request) {
			r.Header.Del("X-Contentful-Webhook-Name")
		}, want: "signature_header_missing"},
		{name: "signed header emptied", edit: func(r *http.Request) {
			r.Header["X-Contentful-Webhook-Name"] = []string{}
		}, want: "signature_header_missing"},
		{name: "header dropped from the signed list", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignedHeaders, strings.Replace(signedList, ",x-contentful-topic", "", 1))
		}, want: "signature_mismatch"},
		{name: "header added to the signed list", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignedHeaders, signedList+",x-contentful-idempotency-key")
		}, want: "signature_mismatch"},
		{name: "wrong secret", secret: strings.Repeat("b", 64), want: "signature_mismatch"},
		{name: "empty secret", secret: "-", want: "signature_not_configured", wantErr: NotConfigured},

		{name: "just signed", at: 0},
		{name: "just inside the window", at: maxAge - time.Millisecond},
		{name: "stale at exactly max age", at: maxAge, want: "signature_expired"},
		{name: "stale beyond max age", at: time.Hour, want: "signature_expired"},
		{name: "slightly in the future", at: -maxAge},
		{name: "from the future", at: -maxAge - time.Millisecond, want: "signature_from_future"},
		{name: "far future timestamp", edit: func(r *http.Request) {
			r.Header.Set(HeaderTimestamp, "999999999999999")
		}, want: "signature_from_future"},
		{name: "epoch timestamp", edit: func(r *http.Request) { r.Header.Set(HeaderTimestamp, "0") }, want: "signature_expired"},
		{name: "timestamp changed inside the window", edit: func(r *http.Request) {
			r.Header.Set(HeaderTimestamp, strconv.FormatInt(sigTS+1, 10))
		}, at: time.Second, want: "signature_mismatch"},

		{name: "missing signature", edit: func(r *http.Request) { r.Header.Del(HeaderSignature) }, want: "signature_missing"},
		{name: "missing timestamp", edit: func(r *http.Request) { r.Header.Del(HeaderTimestamp) }, want: "signature_missing"},
		{name: "missing signed headers", edit: func(r *http.Request) { r.Header.Del(HeaderSignedHeaders) }, want: "signature_missing"},
		{name: "blank signature", edit: func(r *http.Request) { r.Header.Set(HeaderSignature, " ") }, want: "signature_missing"},
		{name: "no signing headers at all", edit: func(r *http.Request) {
			r.Header.Del(HeaderSignature)
			r.Header.Del(HeaderTimestamp)
			r.Header.Del(HeaderSignedHeaders)
		}, want: "signature_missing"},

		{name: "signature not hex", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignature, strings.Repeat("z", 64))
		}, want: "signature_malformed"},
		{name: "signature too short", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignature, r.Header.Get(HeaderSignature)[:63])
		}, want: "signature_malformed"},
		{name: "signature too long", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignature, r.Header.Get(HeaderSignature)+"0")
		}, want: "signature_malformed"},
		{name: "signature base64", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignature, "O1LdPDGqKS04lFOU2hoaoNwtm/E+9N/dkbnz+hRAtAQ=")
		}, want: "signature_malformed"},
		{name: "signature repeated", edit: func(r *http.Request) {
			r.Header.Add(HeaderSignature, r.Header.Get(HeaderSignature))
		}, want: "signature_malformed"},
		{name: "timestamp not a number", edit: func(r *http.Request) { r.Header.Set(HeaderTimestamp, "yesterday") }, want: "signature_malformed"},
		{name: "timestamp negative", edit: func(r *http.Request) { r.Header.Set(HeaderTimestamp, "-1") }, want: "signature_malformed"},
		{name: "timestamp with sign", edit: func(r *http.Request) {
			r.Header.Set(HeaderTimestamp, "+"+strconv.FormatInt(sigTS, 10))
		}, want: "signature_malformed"},
		{name: "timestamp in seconds with fraction", edit: func(r *http.Request) {
			r.Header.Set(HeaderTimestamp, "1603379941.037")
		}, want: "signature_malformed"},
		{name: "timestamp with exponent", edit: func(r *http.Request) { r.Header.Set(HeaderTimestamp, "1.6e12") }, want: "signature_malformed"},
		{name: "timestamp with trailing text", edit: func(r *http.Request) {
			r.Header.Set(HeaderTimestamp, strconv.FormatInt(sigTS, 10)+"abc")
		}, want: "signature_malformed"},
		{name: "timestamp overflowing", edit: func(r *http.Request) {
			r.Header.Set(HeaderTimestamp, strings.Repeat("9", 30))
		}, want: "signature_malformed"},
		{name: "timestamp repeated", edit: func(r *http.Request) {
			r.Header.Add(HeaderTimestamp, r.Header.Get(HeaderTimestamp))
		}, want: "signature_malformed"},
		{name: "signed list without the timestamp", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignedHeaders, "content-type,x-contentful-signed-headers")
		}, want: "signature_malformed"},
		{name: "signed list without itself", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignedHeaders, "content-type,x-contentful-timestamp")
		}, want: "signature_malformed"},
		{name: "signed list naming the signature", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignedHeaders, signedList+",x-contentful-signature")
		}, want: "signature_malformed"},
		{name: "signed list with an empty entry", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignedHeaders, signedList+",")
		}, want: "signature_malformed"},
		{name: "signed list naming a header twice", edit: func(r *http.Request) {
			r.Header.Set(HeaderSignedHeaders, signedList+",Content-Type")
		}, want: "signature_malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = "/webhooks/contentful"
			}
			req := sigRequest(t, target, body, sigT0)
			if tt.edit != nil {
				tt.edit(req)
			}
			secret := sigSecret
			switch tt.secret {
			case "":
			case "-":
				secret = ""
			default:
				secret = tt.secret
			}
			v := sigVerifierAt(secret, maxAge, sigT0.Add(tt.at))
			b := append([]byte(nil), body...)
			if tt.body != nil {
				b = tt.body(b)
			}
			err := v.Verify(req, b)
			if got := sigCode(err); got != tt.want {
				t.Fatalf("Verify: code %q, want %q (err %v)", got, tt.want, err)
			}
			if err == nil {
				return
			}
			var e *Error
			errors.As(err, &e)
			want := tt.wantErr
			if want == 0 {
				want = Unauthenticated
			}
			if e.Kind != want {
				t.Errorf("Kind = %v, want %v", e.Kind, want)
			}
			sig := req.Header.Get(HeaderSignature)
			for _, secretish := range []string{sigSecret, string(body), sig} {
				if len(secretish) >= 16 && strings.Contains(e.Error(), secretish) {
					t.Errorf("error %q reveals %q", e.Error(), secretish)
				}
			}
			if e.Reason == "" || !strings.HasSuffix(e.Reason, ".") {
				t.Errorf("Reason %q is not a sentence", e.Reason)
			}
		})
	}
}

// TestVerifyReplay: a captured request verifies until its window closes,
// then no longer, however often it is replayed.
func TestVerifyReplay(t *testing.T) {
	body := []byte(`{"sys":{"id":"abc"}}`)
	req := sigRequest(t, "/webhooks/contentful", body, sigT0)
	v := NewSignatureVerifier(sigSecret, 30*time.Second)
	now := sigT0.Add(2 * time.Second)
	v.SetClock(func() time.Time { return now })
	for range 3 {
		if err := v.Verify(req, body); err != nil {
			t.Fatalf("inside the window: %v", err)
		}
	}
	now = sigT0.Add(31 * time.Second)
	if got := sigCode(v.Verify(req, body)); got != "signature_expired" {
		t.Fatalf("replay after the window: code %q, want signature_expired", got)
	}
}

// TestVerifyDefaults: a non-positive max age means DefaultMaxAge, never
// "no limit" as 0 means in the reference; the clock defaults to time.Now.
func TestVerifyDefaults(t *testing.T) {
	body := []byte("{}")
	for _, maxAge := range []time.Duration{0, -time.Second} {
		v := NewSignatureVerifier(sigSecret, maxAge)
		if err := v.Verify(sigRequest(t, "/", body, time.Now().Add(-DefaultMaxAge+time.Second)), body); err != nil {
			t.Errorf("maxAge %v, signed just inside the default window: %v", maxAge, err)
		}
		if got := sigCode(v.Verify(sigRequest(t, "/", body, time.Now().Add(-DefaultMaxAge)), body)); got != "signature_expired" {
			t.Errorf("maxAge %v, signed DefaultMaxAge ago: code %q, want signature_expired", maxAge, got)
		}
	}
	v := sigVerifierAt(sigSecret, time.Minute, sigT0)
	v.SetClock(nil)
	if got := sigCode(v.Verify(sigRequest(t, "/", body, sigT0), body)); got != "signature_expired" {
		t.Errorf("SetClock(nil) should restore time.Now: code %q", got)
	}
}

// TestSign: the list holds the given headers that are present, lower-cased,
// sorted, once each, plus the two signing headers; the signing headers
// themselves are never listed as extra names.
func TestSign(t *testing.T) {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/contentful", nil)
	req.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderSignature, "stale")
	Sign(req, nil, sigSecret, sigT0,
		"X-Contentful-Topic", " content-type ", "x-contentful-topic", "X-Absent", "x-contentful-signature", "X-Contentful-Timestamp")
	if got, want := req.Header.Get(HeaderSignedHeaders),
		"content-type,x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic"; got != want {
		t.Errorf("signed headers %q, want %q", got, want)
	}
	if got, want := req.Header.Get(HeaderTimestamp), "1603379941037"; got != want {
		t.Errorf("timestamp %q, want %q", got, want)
	}
	if vs := req.Header.Values(HeaderSignature); len(vs) != 1 || len(vs[0]) != 64 {
		t.Errorf("signature %q, want one 64-character value", vs)
	}
	want := sigHex(sigSecret, CanonicalRequest("POST", "/webhooks/contentful", [][2]string{
		{"Content-Type", "application/json"},
		{"X-Contentful-Topic", "ContentManagement.Entry.publish"},
		{HeaderTimestamp, "1603379941037"},
		{HeaderSignedHeaders, req.Header.Get(HeaderSignedHeaders)},
	}, nil))
	if got := req.Header.Get(HeaderSignature); got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
	if err := sigVerifierAt(sigSecret, time.Minute, sigT0).Verify(req, nil); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// TestNodeHeaderSemantics: header values are taken as Node's http module
// hands them to the reference verifier: repeated lines joined with ", ",
// bytes read as Latin-1 (then UTF-8 encoded for the HMAC) and trimmed of
// JavaScript white space, so a trailing 0xA0 byte is dropped.
func TestNodeHeaderSemantics(t *testing.T) {
	ts := strconv.FormatInt(sigTS, 10)
	list := "x-a,x-contentful-signed-headers,x-contentful-timestamp,x-contentful-webhook-name"
	// What the reference computes from Node's req.headers for this request.
	want := sigHex(sigSecret, CanonicalRequest("POST", "/h", [][2]string{
		{"x-a", "1, 2"},
		{"x-contentful-webhook-name", "café"},
		{HeaderTimestamp, ts},
		{HeaderSignedHeaders, list},
	}, []byte("b")))

	req := httptest.NewRequest(http.MethodPost, "/h", nil)
	req.Header["X-A"] = []string{"1", "2"}
	req.Header.Set("X-Contentful-Webhook-Name", "caf\xe9\xa0")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignedHeaders, list)
	req.Header.Set(HeaderSignature, want)
	if err := sigVerifierAt(sigSecret, time.Minute, sigT0).Verify(req, []byte("b")); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Sign agrees with Verify on such values.
	req.Header.Del(HeaderSignature)
	Sign(req, []byte("b"), sigSecret, sigT0, "X-A", "X-Contentful-Webhook-Name")
	if got := req.Header.Get(HeaderSignature); got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// TestVerifyOverHTTP sends real requests to a real server: a Go client with
// a chunked body and a query string, and a raw request line with a "|" that
// Go would re-escape in r.URL.EscapedPath but Node keeps in req.url.
func TestVerifyOverHTTP(t *testing.T) {
	v := NewSignatureVerifier(sigSecret, time.Minute)
	type result struct {
		chunked bool
		target  string
		err     error
	}
	results := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = v.Verify(r, body)
		}
		results <- result{chunked: len(r.TransferEncoding) > 0 && r.ContentLength == -1, target: requestTarget(r), err: err}
	}))
	defer srv.Close()

	body := strings.Repeat(`{"fields":{"title":{"en-US":"x"}}}`, 100)
	t.Run("chunked Go client", func(t *testing.T) {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/contentful?q=1&w=2", io.NopCloser(strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		req.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish")
		// Go's server moves Host and Transfer-Encoding out of r.Header; Node
		// keeps them, so a signer may list them.
		Sign(req, []byte(body), sigSecret, time.Now(), "X-Contentful-Topic", "Host", "Transfer-Encoding")
		if got, want := req.Header.Get(HeaderSignedHeaders),
			"host,transfer-encoding,x-contentful-signed-headers,x-contentful-timestamp,x-contentful-topic"; got != want {
			t.Fatalf("signed headers %q, want %q", got, want)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := <-results
		if !got.chunked {
			t.Error("request was not chunked")
		}
		if got.err != nil {
			t.Errorf("Verify: %v", got.err)
		}
	})
	t.Run("raw request line", func(t *testing.T) {
		const target = "/hooks/a|b?q=1&w=2"
		ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
		list := "x-contentful-signed-headers,x-contentful-timestamp"
		// The reference's canonical path for this req.url under Node.
		canonical := "POST\n/hooks/a%7Cb?q%253D1%2526w%253D2\n" +
			HeaderSignedHeaders + ":" + list + ";" + HeaderTimestamp + ":" + ts + "\n" + "hi"
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\n%s: %s\r\n%s: %s\r\n%s: %s\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
			target, HeaderTimestamp, ts, HeaderSignedHeaders, list, HeaderSignature, sigHex(sigSecret, canonical))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := <-results
		if got.target != target {
			t.Errorf("signed target %q, want %q as received", got.target, target)
		}
		if got.err != nil {
			t.Errorf("Verify: %v", got.err)
		}
	})
}

// TestVerifyChunkedRequest: how the body was framed does not matter, Verify
// only sees its bytes.
func TestVerifyChunkedRequest(t *testing.T) {
	body := strings.Repeat("x", 3000)
	req := httptest.NewRequest(http.MethodPost, "/webhooks/contentful", strings.NewReader(body))
	req.ContentLength = -1
	req.TransferEncoding = []string{"chunked"}
	req.Header.Set("X-Contentful-Topic", "ContentManagement.Entry.publish")
	Sign(req, []byte(body), sigSecret, sigT0, "X-Contentful-Topic")
	raw, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := sigVerifierAt(sigSecret, time.Minute, sigT0).Verify(req, raw); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// TestVerifyConcurrent shares one verifier between goroutines (run with
// -race), mixing good and bad requests.
func TestVerifyConcurrent(t *testing.T) {
	v := sigVerifierAt(sigSecret, time.Minute, sigT0)
	body := []byte(strings.Repeat("y", 2048))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				req := sigRequest(t, "/webhooks/contentful?g="+strconv.Itoa(g), body, sigT0)
				b := body
				want := ""
				if i%3 == 0 {
					b = append([]byte("z"), body[1:]...)
					want = "signature_mismatch"
				}
				if got := sigCode(v.Verify(req, b)); got != want {
					t.Errorf("goroutine %d, request %d: code %q, want %q", g, i, got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkVerify: a typical 2 KB webhook with three signed webhook headers
// (plus the two signing headers).
func BenchmarkVerify(b *testing.B) {
	const head, tail = `{"sys":{"type":"Entry","id":"abc","revision":3},"fields":{"body":{"en-US":"`, `"}}}`
	body := []byte(head + strings.Repeat("x", 2048-len(head)-len(tail)) + tail)
	req := sigRequest(b, "/webhooks/contentful", body, sigT0)
	v := sigVerifierAt(sigSecret, time.Minute, sigT0)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := v.Verify(req, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyRejectMalformed: an obviously bad request is refused
// without computing an HMAC.
func BenchmarkVerifyRejectMalformed(b *testing.B) {
	body := make([]byte, 2048)
	req := sigRequest(b, "/webhooks/contentful", body, sigT0)
	req.Header.Set(HeaderSignature, strings.Repeat("z", 64))
	v := sigVerifierAt(sigSecret, time.Minute, sigT0)
	b.ReportAllocs()
	for b.Loop() {
		if v.Verify(req, body) == nil {
			b.Fatal("accepted")
		}
	}
}
