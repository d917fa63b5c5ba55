package auth_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/folio-cms/folio/auth"
)

// The fuzz targets' secret and clock: a fixed instant keeps every input's
// verdict the same at every run.
var (
	fuzzSecret = "fuzz-" + strings.Repeat("0123456789", 5) + "-signing-key"
	fuzzNow    = time.UnixMilli(1_764_500_000_000)
	fuzzMaxAge = 30 * time.Second
)

// FuzzSignature checks signature verification against an independent
// signer written here from Contentful's description of the canonical
// request (CONTENTFUL.md; README "Webhooks"), not from folio's code:
//
//   - a request the reference signer signed verifies (any method, path,
//     query, headers, body, any subset of the headers signed, any age
//     inside the window);
//   - one byte changed anywhere (method, path, a header's name or value,
//     the body, the timestamp, the signature, the signed list) leaves a
//     request that verifies only if the reference finds it signed with the
//     secret over the canonical form it now has: a change folio accepts is
//     one that the canonical form does not see (the method's case, an
//     unsigned header, a header name's case, a hex digit's case);
//   - folio's exported CanonicalRequest is the reference's canonical form;
//   - nothing panics.
//
// Inputs: the method, the request-target (origin form), headers as
// "Name: value" lines, the body, which of the first seven headers are
// signed (a bit each; the eighth bit puts folio behind a proxy that strips
// the public URL's path, FOLIO_PUBLIC_URL https://pub.example/base), the
// signature's age in milliseconds, and the mutation: the position of the
// byte to change in the request's bytes and the XOR applied to it.
func FuzzSignature(f *testing.F) {
	body := []byte(`{"sys":{"type":"Entry","id":"post-1","revision":3,"contentType":{"sys":{"type":"Link","linkType":"ContentType","id":"blogPost"}}},"fields":{"title":{"en-US":"Hi"}}}`)
	hdrs := "Content-Type: application/vnd.contentful.management.v1+json\nX-Contentful-Topic: ContentManagement.Entry.publish\nX-Contentful-Webhook-Name: folio\nUser-Agent: Contentful-Webhooks/1"
	f.Add("POST", "/webhooks/contentful", hdrs, body, uint8(0b11), uint32(1200), uint32(0), uint8(0))
	f.Add("POST", "/webhooks/contentful", hdrs, body, uint8(0b11), uint32(1200), uint32(7), uint8(0x20))
	f.Add("post", "/webhooks/contentful?q=1&w=2", hdrs, body, uint8(0xff), uint32(0), uint32(40), uint8(1))
	f.Add("POST", "/webhooks/contentful", "Host: folio.internal:8080\n"+hdrs, body, uint8(0x83), uint32(10), uint32(30), uint8(0x01))
	f.Add("POST", "/admin/refresh", "Host: folio.internal:8080", []byte(nil), uint8(0x81), uint32(10), uint32(2), uint8(0x20))
	f.Add("GET", "/admin/dead-letters?a=%20b|c", "X-Forwarded-For: 10.0.0.1\nAccept: */*", []byte(nil), uint8(0), uint32(29_999), uint32(3), uint8(0x40))
	f.Fuzz(func(t *testing.T, method, target, headerLines string, body []byte, signMask uint8, ageMillis uint32, where uint32, flip uint8) {
		req := fuzzRequest{method: method, target: target, body: body}
		for i, line := range strings.Split(headerLines, "\n") {
			name, value, ok := strings.Cut(line, ":")
			if !ok || i >= 7 || strings.HasPrefix(strings.ToLower(name), "x-contentful-s") ||
				strings.EqualFold(name, auth.HeaderTimestamp) {
				continue
			}
			req.headers = append(req.headers, [2]string{name, strings.Trim(value, " \t")})
		}
		var signed []string
		for i, h := range req.headers {
			if signMask&(1<<i) != 0 {
				signed = append(signed, h[0])
			}
		}
		ts := fuzzNow.UnixMilli() - int64(ageMillis)%fuzzMaxAge.Milliseconds()
		var opts []auth.SignatureOption
		if signMask&0x80 != 0 {
			public, _ := url.Parse("https://pub.example/base")
			opts = append(opts, auth.PublicURL(public))
			req.prefix, req.publicHost = "/base", "pub.example"
		}
		req = req.signed(fuzzSecret, ts, signed)
		v := auth.NewSignatureVerifier(fuzzSecret, fuzzMaxAge, opts...)
		v.SetClock(func() time.Time { return fuzzNow })

		r, ok := req.http()
		if ok {
			if err := v.Verify(r, req.body); err != nil {
				t.Fatalf("a request the reference signed does not verify: %v\n%+v", err, req)
			}
			var hs [][2]string
			for _, n := range req.signedNames() {
				// CanonicalRequest takes text: the bytes read as Latin-1.
				hs = append(hs, [2]string{n, headerText(req.values(n))})
			}
			if got, want := auth.CanonicalRequest(req.method, req.target, hs, req.body), req.canonical(req.signedNames()); req.prefix == "" && got != want {
				t.Fatalf("CanonicalRequest:\n%q\nthe reference:\n%q", got, want)
			}
		}

		if flip == 0 {
			return
		}
		m := req.mutated(int(where), flip)
		r, ok = m.http()
		if !ok {
			return // not a request a server could receive
		}
		err := v.Verify(r, m.body)
		if err != nil {
			var ae *auth.Error
			if !errors.As(err, &ae) || ae.Kind != auth.Unauthenticated {
				t.Fatalf("a refusal that is not an authentication error: %v", err)
			}
		}
		refOK := m.verifiedBy(fuzzSecret, fuzzNow, fuzzMaxAge)
		if err == nil && !refOK {
			t.Fatalf("folio accepts a request the reference finds unsigned: byte %d ^ %#x\nsigned:  %+v\naccepted: %+v", where, flip, req, m)
		}
		if err != nil && refOK && m.sameSigning(req) {
			t.Fatalf("folio refuses (%v) a request the reference finds signed: byte %d ^ %#x\n%+v", err, where, flip, m)
		}
	})
}

// fuzzRequest is a request as a server receives it: the method, the
// request-target, the header lines in order (repeats allowed), the body;
// and, behind a proxy, the public URL's path and host, which the signer
// saw in place of the received path's start and the Host header.
type fuzzRequest struct {
	method, target     string
	headers            [][2]string
	body               []byte
	prefix, publicHost string
}

// http is the request as Go's server hands it to folio, or false for
// bytes no server would deliver (a method that is not a token, a target
// outside origin form, a header name or value that is not valid).
func (q fuzzRequest) http() (*http.Request, bool) {
	if !isToken(q.method) || !strings.HasPrefix(q.target, "/") {
		return nil, false
	}
	for i := 0; i < len(q.target); i++ {
		if c := q.target[i]; c <= ' ' || c >= 0x7f {
			return nil, false
		}
	}
	u, err := url.ParseRequestURI(q.target)
	if err != nil {
		return nil, false
	}
	r := &http.Request{Method: q.method, RequestURI: q.target, URL: u, Header: http.Header{}}
	for _, h := range q.headers {
		if !isToken(h[0]) || !isFieldValue(h[1]) || strings.Trim(h[1], " \t") != h[1] {
			return nil, false
		}
		switch {
		case strings.EqualFold(h[0], "Transfer-Encoding"):
			return nil, false // framing, which this harness does not model
		case strings.EqualFold(h[0], "Host"):
			// Go's server moves Host out of the header, and refuses two.
			if r.Host != "" {
				return nil, false
			}
			r.Host = h[1]
			continue
		}
		r.Header.Add(h[0], h[1])
	}
	return r, true
}

// values returns the values of the header named name, in order (names
// compare case-insensitively), nil when absent.
func (q fuzzRequest) values(name string) []string {
	var vs []string
	for _, h := range q.headers {
		if strings.EqualFold(h[0], name) {
			vs = append(vs, h[1])
		}
	}
	return vs
}

// signed returns q signed as Contentful's signer does: the names given
// (lower case, each once) plus the timestamp and the list itself, the
// timestamp ts, and the HMAC of the canonical request.
func (q fuzzRequest) signed(secret string, ts int64, names []string) fuzzRequest {
	list := []string{strings.ToLower(auth.HeaderSignedHeaders), strings.ToLower(auth.HeaderTimestamp)}
	for _, n := range names {
		list = append(list, strings.ToLower(n))
	}
	slices.Sort(list)
	list = slices.Compact(list)
	q.headers = append(slices.Clone(q.headers),
		[2]string{"X-Contentful-Timestamp", strconv.FormatInt(ts, 10)},
		[2]string{"X-Contentful-Signed-Headers", strings.Join(list, ",")})
	q.headers = append(q.headers, [2]string{"X-Contentful-Signature", mac(secret, q.canonical(list))})
	return q
}

// signedNames is the signed-headers list the request carries, as the
// reference reads it: split at commas, each name trimmed and lower-cased,
// sorted.
func (q fuzzRequest) signedNames() []string {
	var names []string
	for item := range strings.SplitSeq(headerText(q.values(auth.HeaderSignedHeaders)), ",") {
		if n := strings.ToLower(jsTrim(item)); n != "" {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// canonical is the canonical request over the headers named: the method
// upper case; the path (behind the proxy, the public URL's path first) as
// JavaScript's encodeURI escapes it and the query
// as Node's querystring.escape, then encodeURI, escape it; each header as
// name:value (behind the proxy, host is the public URL's), the value read as Latin-1 (as Node reads header bytes), lines
// of a repeated header joined with ", ", trimmed as JavaScript trims;
// joined with ";"; then the body; lines joined with "\n".
func (q fuzzRequest) canonical(names []string) string {
	var b strings.Builder
	b.WriteString(strings.ToUpper(q.method))
	b.WriteByte('\n')
	path, query, hasQuery := strings.Cut(q.target, "?")
	b.WriteString(encodeURI(q.prefix + path))
	if hasQuery && query != "" {
		b.WriteString("?")
		b.WriteString(encodeURI(encodeURIComponent(query)))
	}
	b.WriteByte('\n')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(';')
		}
		if n == "host" && q.publicHost != "" {
			b.WriteString(n + ":" + q.publicHost)
			continue
		}
		b.WriteString(n + ":" + headerText(q.values(n)))
	}
	b.WriteByte('\n')
	b.Write(q.body)
	return b.String()
}

// verifiedBy is the reference verifier: exactly one signature of 64 hex
// digits, exactly one timestamp of digits signed less than maxAge ago (and
// no more than maxAge ahead), a list naming the timestamp and itself, every
// header it names present, and the HMAC over the canonical form equal.
func (q fuzzRequest) verifiedBy(secret string, now time.Time, maxAge time.Duration) bool {
	sigs, tss := q.values(auth.HeaderSignature), q.values(auth.HeaderTimestamp)
	if len(sigs) != 1 || len(tss) != 1 || len(q.values(auth.HeaderSignedHeaders)) != 1 {
		return false
	}
	sig, err := hex.DecodeString(jsTrim(sigs[0]))
	if err != nil || len(sig) != sha256.Size {
		return false
	}
	ts, err := strconv.ParseInt(jsTrim(tss[0]), 10, 64)
	if err != nil || strings.ContainsAny(jsTrim(tss[0]), "+-") {
		return false
	}
	if age := now.UnixMilli() - ts; age >= maxAge.Milliseconds() || -age > maxAge.Milliseconds() {
		return false
	}
	names := q.signedNames()
	if !slices.Contains(names, strings.ToLower(auth.HeaderTimestamp)) || !slices.Contains(names, strings.ToLower(auth.HeaderSignedHeaders)) {
		return false
	}
	for _, n := range names {
		if q.values(n) == nil {
			return false
		}
	}
	want, _ := hex.DecodeString(mac(secret, q.canonical(names)))
	return hmac.Equal(sig, want)
}

// sameSigning reports whether the three signing headers are as in p.
func (q fuzzRequest) sameSigning(p fuzzRequest) bool {
	for _, n := range []string{auth.HeaderSignature, auth.HeaderTimestamp, auth.HeaderSignedHeaders} {
		if !slices.Equal(q.values(n), p.values(n)) {
			return false
		}
	}
	return true
}

// mutated returns q with one byte XORed with flip: the byte at where
// (modulo the length) of method, target, header names and values, body
// laid end to end.
func (q fuzzRequest) mutated(where int, flip byte) fuzzRequest {
	m := q
	m.headers, m.body = slices.Clone(q.headers), slices.Clone(q.body)
	total := len(m.method) + len(m.target) + len(m.body)
	for _, h := range m.headers {
		total += len(h[0]) + len(h[1])
	}
	if total == 0 {
		return m
	}
	i := where % total
	change := func(s string) string {
		b := []byte(s)
		b[i] ^= flip
		return string(b)
	}
	if i < len(m.method) {
		m.method = change(m.method)
		return m
	}
	i -= len(m.method)
	if i < len(m.target) {
		m.target = change(m.target)
		return m
	}
	i -= len(m.target)
	for k := range m.headers {
		for j := range 2 {
			if i < len(m.headers[k][j]) {
				m.headers[k][j] = change(m.headers[k][j])
				return m
			}
			i -= len(m.headers[k][j])
		}
	}
	m.body[i] ^= flip
	return m
}

func mac(secret, canonical string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(canonical))
	return hex.EncodeToString(h.Sum(nil))
}

// headerText is a header's value as Node hands it over: lines joined with
// ", ", bytes read as Latin-1, trimmed as JavaScript trims; UTF-8 encoded.
func headerText(vs []string) string {
	var rs []rune
	for _, b := range []byte(strings.Join(vs, ", ")) {
		rs = append(rs, rune(b))
	}
	return jsTrim(string(rs))
}

// jsTrim is String.prototype.trim: ECMAScript WhiteSpace (tab, vertical
// tab, form feed, space, no-break space, the byte order mark, Unicode Zs)
// and LineTerminator (LF, CR, U+2028, U+2029) at either end.
func jsTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return strings.ContainsRune("\t\v\f \u00a0\ufeff\n\r\u2028\u2029", r) || unicode.Is(unicode.Zs, r)
	})
}

// encodeURIComponent escapes what ECMAScript's encodeURIComponent (and
// Node's querystring.escape) escapes: everything but letters, digits and
// - _ . ! ~ * ' ( ), as UTF-8 bytes, upper-case hex.
func encodeURIComponent(s string) string { return escapeExcept(s, "-_.!~*'()") }

// encodeURI leaves ; , / ? : @ & = + $ # alone as well.
func encodeURI(s string) string { return escapeExcept(s, "-_.!~*'();,/?:@&=+$#") }

func escapeExcept(s, kept string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c < utf8.RuneSelf && (unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || strings.IndexByte(kept, c) >= 0) {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

// isToken reports an RFC 9110 token (a method, a header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c >= utf8.RuneSelf || !(unicode.IsLetter(rune(c)) || unicode.IsDigit(rune(c)) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// isFieldValue reports a header value a server accepts: no control
// characters but tab (obs-text, bytes from 0x80, allowed).
func isFieldValue(s string) bool {
	for _, c := range []byte(s) {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}
