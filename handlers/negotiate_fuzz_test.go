package handlers

import (
	"strings"
	"testing"

	"github.com/folio-cms/folio/cache"
)

// FuzzNegotiate checks Accept-Encoding against a reference written here
// from RFC 9110 §12.5.3 and §12.4.2:
//
//	Accept-Encoding = #( codings [ weight ] )
//	codings         = content-coding / "identity" / "*"
//	weight          = OWS ";" OWS "q=" qvalue   ; "q" in either case
//	qvalue          = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
//
// A coding is acceptable when its own entry (x-gzip counts as gzip,
// §8.4.1.3), or failing one the "*" entry, has a weight above 0; folio
// then picks brotli, then gzip, then identity (README, "HTTP surface"):
// preference among acceptable codings is the server's. No field, or an
// empty one, gets identity. For a field of that grammar naming each coding
// at most once, negotiate must pick exactly that; for any other it must
// pick identity or a coding that some entry accepts (by name or by "*").
// negotiate's fast path must agree with parseAcceptEncoding, and nothing
// panics. A "\n" in the input separates field lines; lines holding a
// control character other than tab are left out, as Go's server refuses
// them (400) before any handler runs.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{
		"gzip", "gzip, deflate", "gzip, deflate, br", "gzip, deflate, br, zstd", "br", "br, gzip", "",
		"br;q=0, gzip", "*", "*;q=0", "br;q=0, *", "identity", "x-gzip", "GZIP;Q=0.5", "gzip;q=0.000",
		"gzip;q=0.001, br;q=0", "br;q=1.000", "gzip ; q=0", "gzip;q=0.", "gzip;q=00", "gzip;q=1.5",
		"gzip;level=1;q=0", "br;q=0\nbr", "gzip\n*;q=0", ",, br ,", "br;q=0, br", "\u00a0br",
		"zstd;q=1.0, br;q=0.9, gzip;q=0.8, *;q=0.1", "deflate, identity;q=0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		values := strings.Split(input, "\n")
		for _, v := range values {
			if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
				return
			}
		}
		got, slow := negotiate(values), parseAcceptEncoding(values)
		if got != slow {
			t.Fatalf("Accept-Encoding %q: negotiate %v, parseAcceptEncoding %v", values, got, slow)
		}
		want, exact, allowed := refAcceptEncoding(values)
		if exact && got != want {
			t.Fatalf("Accept-Encoding %q: negotiate %v, RFC 9110 %v", values, got, want)
		}
		if !exact && !allowed[got] {
			t.Fatalf("Accept-Encoding %q (outside the grammar): negotiate %v, which no entry accepts", values, got)
		}
	})
}

// refAcceptEncoding evaluates Accept-Encoding field lines: want is the
// choice for a field of the grammar naming each coding once (exact true);
// allowed holds identity and every coding some entry accepts.
func refAcceptEncoding(values []string) (want cache.Encoding, exact bool, allowed map[cache.Encoding]bool) {
	allowed = map[cache.Encoding]bool{cache.Identity: true}
	exact = true
	weights := map[string]bool{} // coding → acceptable (q > 0)
	named := map[string]int{}
	for _, elem := range strings.Split(strings.Join(values, ","), ",") {
		elem = strings.Trim(elem, " \t")
		if elem == "" {
			continue // empty list elements are allowed (§5.6.1)
		}
		name, weight, hasWeight := strings.Cut(elem, ";")
		name = strings.ToLower(strings.Trim(name, " \t"))
		if name == "x-gzip" {
			name = "gzip"
		}
		q, ok := 1.0, isToken(name)
		if hasWeight {
			q, ok = qvalue(strings.Trim(weight, " \t"))
			ok = ok && isToken(name)
		}
		if !ok {
			exact = false
			// Some reading of a faulty entry may accept it.
			for _, enc := range codingsNamed(strings.Trim(name, " \t\u00a0")) {
				allowed[enc] = true
			}
			continue
		}
		named[name]++
		weights[name] = q > 0
		if q > 0 {
			for _, enc := range codingsNamed(name) {
				allowed[enc] = true
			}
		}
	}
	for _, n := range named {
		if n > 1 {
			exact = false
		}
	}
	acceptable := func(coding string) bool {
		if ok, listed := weights[coding]; listed {
			return ok
		}
		return weights["*"]
	}
	switch {
	case acceptable("br"):
		want = cache.Brotli
	case acceptable("gzip"):
		want = cache.Gzip
	}
	return want, exact, allowed
}

// codingsNamed is what an entry's name may stand for among folio's codings.
func codingsNamed(name string) []cache.Encoding {
	switch strings.ToLower(name) {
	case "br":
		return []cache.Encoding{cache.Brotli}
	case "gzip", "x-gzip":
		return []cache.Encoding{cache.Gzip}
	case "*":
		return []cache.Encoding{cache.Brotli, cache.Gzip}
	}
	return nil
}

// qvalue parses `"q=" qvalue` (q in either case) to its weight.
func qvalue(s string) (float64, bool) {
	if len(s) < 3 || (s[0] != 'q' && s[0] != 'Q') || s[1] != '=' {
		return 0, false
	}
	v := s[2:]
	whole, frac, dot := strings.Cut(v, ".")
	if len(frac) > 3 || (!dot && v != whole) {
		return 0, false
	}
	for _, c := range frac {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	switch whole {
	case "0":
		return map[bool]float64{true: 1, false: 0}[strings.Trim(frac, "0") != ""] * 0.5, true
	case "1":
		return 1, strings.Trim(frac, "0") == ""
	}
	return 0, false
}

// isToken reports an RFC 9110 token, or "*".
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}
