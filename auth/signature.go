package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The three headers of Contentful's request signing, lower case as they are
// named inside x-contentful-signed-headers and the canonical request.
const (
	HeaderSignature     = "x-contentful-signature"
	HeaderSignedHeaders = "x-contentful-signed-headers"
	HeaderTimestamp     = "x-contentful-timestamp"
)

// DefaultMaxAge is the oldest signed request accepted when no positive maximum
// age is given; it is the default of Contentful's reference verifier.
const DefaultMaxAge = 30 * time.Second

// The same names as Go stores them in an http.Header, so that the three
// lookups every request needs cost no canonicalisation.
var (
	canonicalSignature     = textproto.CanonicalMIMEHeaderKey(HeaderSignature)
	canonicalSignedHeaders = textproto.CanonicalMIMEHeaderKey(HeaderSignedHeaders)
	canonicalTimestamp     = textproto.CanonicalMIMEHeaderKey(HeaderTimestamp)
)

// SignatureVerifier checks Contentful's request signatures. It does not
// change after NewSignatureVerifier (SetClock, for tests, swaps the clock
// atomically) and is safe for concurrent use.
type SignatureVerifier struct {
	secret []byte
	maxAge time.Duration
	// prefix is the path of folio's public base URL ("" or "/folio"),
	// put before the path folio receives; host is its host, the value of a
	// signed Host header; both empty without a public URL.
	prefix string
	host   string
	clock  atomic.Pointer[func() time.Time]
	// macs holds keyed HMAC states with scratch space, so that a Verify on
	// the hot path allocates nothing.
	macs sync.Pool
}

// macState is one HMAC keyed with the secret plus reusable buffers.
type macState struct {
	mac hash.Hash
	buf []byte
	sum []byte
}

// maxPooledBuf keeps a request with a huge path or header from pinning a
// huge buffer in the pool.
const maxPooledBuf = 16 << 10

// SignatureOption changes how a SignatureVerifier rebuilds the request.
type SignatureOption func(*SignatureVerifier)

// PublicURL tells the verifier folio's public base URL, the one Contentful
// calls, when a proxy in front strips a path prefix: with
// https://example.com/folio, a request folio receives as
// /webhooks/contentful is checked as /folio/webhooks/contentful, the path
// Contentful signed, and a signed Host header as example.com. The URL must
// be absolute, without query or fragment (config.Load checks it); nil or a
// URL with an empty or "/" path adds no prefix.
func PublicURL(u *url.URL) SignatureOption {
	return func(v *SignatureVerifier) {
		if u == nil {
			return
		}
		v.prefix = strings.TrimRight(u.EscapedPath(), "/")
		v.host = u.Host
	}
}

// NewSignatureVerifier returns a verifier for the space's signing secret that
// refuses requests signed maxAge or longer ago. A maxAge of zero or less means
// DefaultMaxAge: unlike the reference verifier, where 0 disables the check,
// folio never accepts a signature of any age, since that would allow replays.
// With an empty secret every request is refused as not configured.
func NewSignatureVerifier(secret string, maxAge time.Duration, opts ...SignatureOption) *SignatureVerifier {
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	v := &SignatureVerifier{secret: []byte(secret), maxAge: maxAge}
	for _, o := range opts {
		o(v)
	}
	key := v.secret
	v.macs.New = func() any {
		return &macState{
			mac: hmac.New(sha256.New, key),
			buf: make([]byte, 0, 1024),
			sum: make([]byte, 0, sha256.Size),
		}
	}
	return v
}

// PublicPath is the path prefix put before every received path ("" when
// folio's public URL has none), for /status.
func (v *SignatureVerifier) PublicPath() string { return v.prefix }

// SetClock replaces the clock used to judge a signature's age (default
// time.Now; nil restores it). It exists for tests.
func (v *SignatureVerifier) SetClock(now func() time.Time) {
	if now == nil {
		v.clock.Store(nil)
		return
	}
	v.clock.Store(&now)
}

func (v *SignatureVerifier) now() time.Time {
	if f := v.clock.Load(); f != nil {
		return (*f)()
	}
	return time.Now()
}

// Verify checks r's signature over body, the raw body bytes read by the
// caller before any parsing (how they were framed, chunked or not, does not
// matter). It returns nil or an *Error of Kind Unauthenticated whose Code is
// one of signature_missing (a signing header absent or blank),
// signature_malformed (a signature that is not 64 hex characters, a
// timestamp that is not an integer, a repeated signing header, or a signed
// list that is empty between commas, names a header twice, names the
// signature, or leaves out the timestamp or itself), signature_expired,
// signature_from_future, signature_header_missing (a listed header is not
// on the request) or signature_mismatch (whose reason names the method, the
// path as folio rebuilt it, without its query, and the signed header names:
// never a header value, the secret or the signature); or of Kind
// NotConfigured, Code signature_not_configured, when the verifier has no
// secret.
//
// The cheap checks (presence, shape, age, listed headers present) all run
// before the HMAC is computed.
func (v *SignatureVerifier) Verify(r *http.Request, body []byte) error {
	if len(v.secret) == 0 {
		return &Error{Kind: NotConfigured, Code: "signature_not_configured",
			Reason: "Request signing is enabled but no signing secret is configured."}
	}
	sigText, err := signingHeader(r.Header, canonicalSignature, HeaderSignature)
	if err != nil {
		return err
	}
	tsText, err := signingHeader(r.Header, canonicalTimestamp, HeaderTimestamp)
	if err != nil {
		return err
	}
	listText, err := signingHeader(r.Header, canonicalSignedHeaders, HeaderSignedHeaders)
	if err != nil {
		return err
	}

	var sig [sha256.Size]byte
	if !decodeHex(sig[:], sigText) {
		return unauthenticated("signature_malformed",
			"The x-contentful-signature header is not 64 hexadecimal characters.", nil)
	}
	ts, ok := parseMillis(tsText)
	if !ok {
		return unauthenticated("signature_malformed",
			"The x-contentful-timestamp header is not an integer number of milliseconds since the epoch.", nil)
	}
	if err := v.checkAge(ts); err != nil {
		return err
	}

	var nameBuf [16]string
	names, err := parseSignedHeaders(listText, nameBuf[:0])
	if err != nil {
		return err
	}
	for _, name := range names {
		if requestHeader(r, name) == nil {
			return unauthenticated("signature_header_missing",
				fmt.Sprintf("The signed header %q is missing from the request.", clip(name)), nil)
		}
	}

	st := v.macs.Get().(*macState)
	st.buf = appendCanonicalPrefix(st.buf[:0], r, names, v.prefix, v.host)
	st.mac.Write(st.buf)
	st.mac.Write(body)
	st.sum = st.mac.Sum(st.sum[:0])
	match := hmac.Equal(st.sum, sig[:])
	st.mac.Reset()
	if cap(st.buf) <= maxPooledBuf {
		v.macs.Put(st)
	}
	if !match {
		return unauthenticated("signature_mismatch", v.mismatchReason(r, names), nil)
	}
	return nil
}

// mismatchReason says what folio signed in the operator's stead: the
// method, the canonical path (the query only by its length: it may carry a
// token), the signed header names, and where the path came from. Header
// values never appear: some are secret.
func (v *SignatureVerifier) mismatchReason(r *http.Request, names []string) string {
	target := requestTarget(r)
	path, query, _ := strings.Cut(target, "?")
	shown := string(appendTarget(nil, v.prefix, path))
	var b strings.Builder
	fmt.Fprintf(&b, "The request signature does not match the request as folio rebuilt it: %s %s",
		appendMethod(nil, r.Method), clipTo(shown, 256))
	if query != "" {
		fmt.Fprintf(&b, " with a query of %d bytes (not shown)", len(query))
	}
	const most = 16
	b.WriteString(", signed headers ")
	for i, n := range names {
		if i == most {
			fmt.Fprintf(&b, " and %d more", len(names)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(clip(n))
	}
	if v.prefix != "" {
		fmt.Fprintf(&b, ". The path is the received %s under the public URL's path %s.", clipTo(path, 256), v.prefix)
	} else {
		b.WriteString(". If a proxy in front changes the path, set FOLIO_PUBLIC_URL to folio's public base URL.")
	}
	return b.String()
}

// checkAge refuses a timestamp (epoch milliseconds) maxAge or more in the
// past, as the reference does (now - timestamp >= max age), or more than
// maxAge in the future, which the reference does not check.
func (v *SignatureVerifier) checkAge(ts int64) error {
	now := v.now().UnixMilli()
	if ts <= now {
		if millis(now-ts) >= v.maxAge {
			return unauthenticated("signature_expired",
				fmt.Sprintf("The request was signed %s ago; requests older than %s are refused.",
					age(now-ts), v.maxAge), nil)
		}
		return nil
	}
	if millis(ts-now) > v.maxAge {
		return unauthenticated("signature_from_future",
			fmt.Sprintf("The request timestamp is %s ahead of this server's clock (more than %s).",
				age(ts-now), v.maxAge), nil)
	}
	return nil
}

// millis converts milliseconds to a Duration, saturating instead of
// overflowing for absurd timestamps.
func millis(ms int64) time.Duration {
	if ms > int64(1<<63-1)/int64(time.Millisecond) {
		return 1<<63 - 1
	}
	return time.Duration(ms) * time.Millisecond
}

// age renders a difference in milliseconds for an error reason.
func age(ms int64) string {
	if ms > int64(100*365*24*time.Hour/time.Millisecond) {
		return "more than a century"
	}
	return (time.Duration(ms) * time.Millisecond).String()
}

// Sign computes the signature headers for a request, as Contentful does:
// used by `folio webhook send` and tests. It sets x-contentful-timestamp
// (now in epoch milliseconds), x-contentful-signed-headers (the names of the
// given headers present on req, lower-cased and sorted, plus
// x-contentful-timestamp and x-contentful-signed-headers themselves) and
// x-contentful-signature on req.Header. The signed path is req.RequestURI
// when set (a server-side request) and otherwise req.URL.RequestURI(), the
// request-target a Go client sends.
func Sign(req *http.Request, body []byte, secret string, now time.Time, signedHeaders ...string) {
	SignAs(req, requestTarget(req), body, secret, now, signedHeaders...)
}

// SignAs is Sign with the signed path and query given instead of taken
// from req: the request-target the receiving folio will check, when req goes
// straight to a folio whose public URL (PublicURL) has a path prefix that
// req's URL lacks. target starts with "/".
func SignAs(req *http.Request, target string, body []byte, secret string, now time.Time, signedHeaders ...string) {
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	names := []string{HeaderSignedHeaders, HeaderTimestamp}
	for _, n := range signedHeaders {
		n = strings.ToLower(jsTrim(n))
		switch n {
		case "", HeaderSignature, HeaderSignedHeaders, HeaderTimestamp:
			continue
		}
		if requestHeader(req, n) != nil {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)

	req.Header.Del(HeaderSignature)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.UnixMilli(), 10))
	req.Header.Set(HeaderSignedHeaders, strings.Join(names, ","))

	as := *req
	as.RequestURI = target
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(appendCanonicalPrefix(nil, &as, names, "", ""))
	mac.Write(body)
	req.Header.Set(HeaderSignature, hex.EncodeToString(mac.Sum(nil)))
}

// CanonicalRequest returns the exact string that is HMAC'd, exported so that
// tests and the webhook bench can show it: the method upper case; the path
// and query (the query percent-escaped as one component like Node's
// querystring.escape, then the whole like JavaScript's encodeURI, so
// "?q=1&w=2" becomes "?q%253D1%2526w%253D2"); the headers (names lower-cased
// and trimmed, values trimmed of JavaScript white space, sorted by name, each
// name:value, joined with ";"; a name given twice keeps its last value, as a
// JavaScript object would); and the body; joined with "\n". Header values
// are text here; Verify and Sign first read received header bytes as Latin-1,
// as Node does. The headers must include x-contentful-timestamp and
// x-contentful-signed-headers for this to be a request Contentful could have
// signed.
func CanonicalRequest(method, pathAndQuery string, headers [][2]string, body []byte) string {
	hs := make([][2]string, 0, len(headers))
	for _, h := range headers {
		hs = append(hs, [2]string{strings.ToLower(jsTrim(h[0])), jsTrim(h[1])})
	}
	// Stable, so that among equal names the last one given ends up last.
	slices.SortStableFunc(hs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	b := appendMethod(nil, method)
	b = append(b, '\n')
	b = appendTarget(b, "", pathAndQuery)
	b = append(b, '\n')
	first := true
	for i, h := range hs {
		if i+1 < len(hs) && hs[i+1][0] == h[0] {
			continue
		}
		if !first {
			b = append(b, ';')
		}
		first = false
		b = appendHeader(b, h[0], h[1])
	}
	b = append(b, '\n')
	b = append(b, body...)
	return string(b)
}

// appendCanonicalPrefix appends everything of r's canonical request but the
// body, for signed header names that are lower case, sorted and all present
// on r. prefix goes before r's path and host, when set, is the value of a
// signed Host header: folio's public URL (PublicURL).
func appendCanonicalPrefix(b []byte, r *http.Request, names []string, prefix, host string) []byte {
	b = appendMethod(b, r.Method)
	b = append(b, '\n')
	b = appendTarget(b, prefix, requestTarget(r))
	b = append(b, '\n')
	for i, name := range names {
		if i > 0 {
			b = append(b, ';')
		}
		if host != "" && name == "host" {
			b = appendHeader(b, name, host)
			continue
		}
		b = appendHeader(b, name, headerText(requestHeader(r, name)))
	}
	return append(b, '\n')
}

func appendMethod(b []byte, method string) []byte {
	if method == "" {
		method = http.MethodGet
	}
	for i := 0; i < len(method); i++ {
		c := method[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

func appendHeader(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ':')
	return append(b, jsTrim(value)...)
}

// requestTarget is the path and query the signer saw. On the server that is
// r.RequestURI, the request-target exactly as received: it is what Node's
// req.url holds for the reference verifier, and unlike r.URL.EscapedPath it
// is neither re-escaped by Go (a raw "|" stays "|") nor changed by
// http.StripPrefix. Elsewhere (a client request being signed, or a
// hand-built one) it is r.URL.RequestURI(), what a Go client puts on the
// wire.
func requestTarget(r *http.Request) string {
	if t := r.RequestURI; t != "" && t[0] == '/' {
		return t
	}
	if r.URL == nil {
		return "/"
	}
	return r.URL.RequestURI()
}

// appendTarget appends the canonical path of Contentful's reference
// implementation: split at the first "?", escape the query as one component
// (Node's querystring.escape), join with "?" (dropped when the query is
// empty), then encodeURI the whole. Both work on UTF-8 bytes, and encodeURI
// escapes the "%" that querystring.escape produced, so a query byte either
// stays as it is or becomes "%25XX". The reference splits at every "?" and
// keeps only the first two pieces, leaving anything after a second "?"
// unsigned; folio signs the whole query instead. prefix, a path without a
// query, goes before target's path.
func appendTarget(b []byte, prefix, target string) []byte {
	path, query, _ := strings.Cut(target, "?")
	for _, p := range [2]string{prefix, path} {
		for i := 0; i < len(p); i++ {
			if c := p[i]; keptByEncodeURI(c) {
				b = append(b, c)
			} else {
				b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
			}
		}
	}
	if query == "" {
		return b
	}
	b = append(b, '?')
	for i := 0; i < len(query); i++ {
		if c := query[i]; keptByQueryEscape(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', '2', '5', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return b
}

const hexUpper = "0123456789ABCDEF"

// keptByQueryEscape: what Node's querystring.escape leaves alone
// (A-Z a-z 0-9 - _ . ! ~ * ' ( )).
func keptByQueryEscape(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()", c) >= 0
}

// keptByEncodeURI: what JavaScript's encodeURI leaves alone (the above plus
// ; , / ? : @ & = + $ #).
func keptByEncodeURI(c byte) bool {
	return keptByQueryEscape(c) || strings.IndexByte(";,/?:@&=+$#", c) >= 0
}

// signingHeader returns one of the three signing headers, trimmed, or the
// error for it being absent, empty or repeated.
func signingHeader(h http.Header, canonical, name string) (string, error) {
	vs := h[canonical]
	if vs == nil {
		vs = headerValues(h, name)
	}
	if len(vs) > 1 {
		return "", unauthenticated("signature_malformed",
			fmt.Sprintf("The %s header is repeated.", name), nil)
	}
	var v string
	if len(vs) == 1 {
		v = jsTrim(vs[0])
	}
	if v == "" {
		return "", unauthenticated("signature_missing",
			fmt.Sprintf("The request is not signed: the %s header is missing.", name), nil)
	}
	return v, nil
}

// parseSignedHeaders splits x-contentful-signed-headers into lower-case names
// appended to names, sorted. The list must name x-contentful-timestamp and
// x-contentful-signed-headers, must not name the signature itself, and must
// not name anything twice or be empty between commas. The reference
// verifier instead ignores unknown or empty entries and always signs the
// timestamp and the list; Contentful's signer always produces a list that
// passes here.
func parseSignedHeaders(list string, names []string) ([]string, error) {
	for rest := list; ; {
		item, tail, more := strings.Cut(rest, ",")
		name := jsTrim(item)
		if name == "" {
			return nil, unauthenticated("signature_malformed",
				"The x-contentful-signed-headers header has an empty entry.", nil)
		}
		name = strings.ToLower(name)
		if name == HeaderSignature {
			return nil, unauthenticated("signature_malformed",
				"The x-contentful-signed-headers header lists the signature itself.", nil)
		}
		names = append(names, name)
		if !more {
			break
		}
		rest = tail
	}
	slices.Sort(names)
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			return nil, unauthenticated("signature_malformed",
				fmt.Sprintf("The x-contentful-signed-headers header lists %q twice.", clip(names[i])), nil)
		}
	}
	for _, must := range [...]string{HeaderSignedHeaders, HeaderTimestamp} {
		if _, found := slices.BinarySearch(names, must); !found {
			return nil, unauthenticated("signature_malformed",
				fmt.Sprintf("The x-contentful-signed-headers header does not list %s.", must), nil)
		}
	}
	return names, nil
}

// requestHeader returns the values of r's header named name, in any case, or
// nil when there are none. Go's server moves two headers out of r.Header
// that Node keeps in req.headers: Host (to r.Host) and Transfer-Encoding (to
// r.TransferEncoding); they are read back from there.
func requestHeader(r *http.Request, name string) []string {
	if vs := headerValues(r.Header, name); vs != nil {
		return vs
	}
	switch strings.ToLower(name) {
	case "host":
		host := r.Host
		if host == "" && r.URL != nil {
			host = r.URL.Host
		}
		if host != "" {
			return []string{host}
		}
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return r.TransferEncoding
		}
	}
	return nil
}

// headerValues returns the values of the header named name in any case, or
// nil when there are none. Go stores received header names canonicalised
// (X-Contentful-Topic); a hand-built header may hold other spellings.
func headerValues(h http.Header, name string) []string {
	var key [64]byte
	if len(name) <= len(key) {
		k := key[:len(name)]
		upper := true
		for i := 0; i < len(name); i++ {
			c := name[i]
			if upper && 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			} else if !upper && 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			k[i] = c
			upper = c == '-'
		}
		if vs := h[string(k)]; len(vs) > 0 {
			return vs
		}
	} else if vs := h[textproto.CanonicalMIMEHeaderKey(name)]; len(vs) > 0 {
		return vs
	}
	var keys []string
	for k, vs := range h {
		if len(vs) > 0 && strings.EqualFold(k, name) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	var vs []string
	for _, k := range keys {
		vs = append(vs, h[k]...)
	}
	return vs
}

// headerText is a header's value as Node's reference verifier sees it:
// repeated lines joined with ", " (Node's join for headers it does not know;
// for a few it knows, such as Content-Type, Node keeps only the first line,
// where folio's joined value then fails to verify, failing closed), bytes
// read as Latin-1 (Node's decoding of header bytes) and the text UTF-8
// encoded for the HMAC, then trimmed of JavaScript white space.
func headerText(vs []string) string {
	v := vs[0]
	if len(vs) > 1 {
		v = strings.Join(vs, ", ")
	}
	return jsTrim(latin1ToUTF8(v))
}

func latin1ToUTF8(s string) string {
	high := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			high++
		}
	}
	if high == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+high)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x80 {
			b = append(b, c)
		} else {
			b = append(b, 0xC0|c>>6, 0x80|c&0x3F)
		}
	}
	return string(b)
}

// jsTrim trims what JavaScript's String.prototype.trim trims.
func jsTrim(s string) string {
	return strings.TrimFunc(s, isJSSpace)
}

func isJSSpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF:
		return true
	}
	return 0x2000 <= r && r <= 0x200A
}

// decodeHex decodes exactly len(dst)*2 hexadecimal characters of either case.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// parseMillis accepts only decimal digits (no sign, no fraction, no
// exponent), at most 15 of them (epoch milliseconds have 13 until the year
// 2286).
func parseMillis(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 15 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// clip keeps a request-supplied name in an error reason short.
func clip(s string) string { return clipTo(s, 64) }

func clipTo(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
