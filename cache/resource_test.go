package cache

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/folio-cms/folio/contentful"
)

func TestResourceVariantsDecodeToTheSameBytes(t *testing.T) {
	body := []byte(`{"items":[` + strings.Repeat(`{"title":"hello world"},`, 200) + `{}]}`)
	r := NewResource(body, time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC))

	gz, err := gzip.NewReader(bytes.NewReader(r.Variant(Gzip).Body))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(gz); !bytes.Equal(got, body) {
		t.Fatal("gzip variant does not decode to the body")
	}
	if got, _ := io.ReadAll(brotli.NewReader(bytes.NewReader(r.Variant(Brotli).Body))); !bytes.Equal(got, body) {
		t.Fatal("brotli variant does not decode to the body")
	}
	if len(r.Variant(Brotli).Body) >= len(body) || len(r.Variant(Gzip).Body) >= len(body) {
		t.Fatal("compressed variants are not smaller")
	}
	sum := sha256.Sum256(body)
	if want := `"` + hex.EncodeToString(sum[:16]) + `"`; r.ETag() != want {
		t.Fatalf("ETag %s, want %s", r.ETag(), want)
	}
	tags := map[string]bool{}
	for _, e := range []Encoding{Identity, Gzip, Brotli} {
		v := r.Variant(e)
		tags[v.ETag[0]] = true
		var out bytes.Buffer
		if n, err := v.WriteTo(&out); err != nil || int(n) != out.Len() {
			t.Fatalf("encoding %d: WriteTo %d, %v", e, n, err)
		}
		if v.ContentLength[0] != strconv.Itoa(out.Len()) {
			t.Errorf("encoding %d: Content-Length %s for %d bytes", e, v.ContentLength[0], out.Len())
		}
		if e == Identity && !bytes.Equal(out.Bytes(), body) {
			t.Error("the identity written is not the body")
		}
	}
	if r.Variant(Identity).Body != nil {
		t.Error("the identity is held beside its gzip form")
	}
	if !bytes.Equal(r.Body(), body) || r.Size() != len(body) || !r.Holds(body) || r.Holds(append(body, ' ')) {
		t.Error("Body, Size or Holds do not describe the identity")
	}
	if len(tags) != 3 {
		t.Fatalf("each representation needs its own strong ETag: %v", tags)
	}
	if r.LastModified()[0] != "Fri, 02 Jan 2026 03:04:05 GMT" {
		t.Fatalf("Last-Modified %q", r.LastModified()[0])
	}
}

// TestIdentityInflated: an identity not held is inflated from gzip on the
// way out (that it allocates nothing once the inflaters are warm is shown
// by BenchmarkContent's identity case: under -race sync.Pool drops items on
// purpose); gzip bytes that do not inflate are ErrCorrupt, and a writer's
// error is the writer's.
func TestIdentityInflated(t *testing.T) {
	body := []byte(`{"items":[` + strings.Repeat(`{"title":"hello world","n":12345},`, 2000) + `{}]}`)
	r := NewResource(body, time.Now())
	v := r.Variant(Identity)
	bad := &Variant{gz: append(bytes.Clone(r.Variant(Gzip).Body[:len(r.Variant(Gzip).Body)-8]), 1, 2, 3, 4, 5, 6, 7, 8)}
	if _, err := bad.WriteTo(io.Discard); !errors.Is(err, ErrCorrupt) {
		t.Errorf("a gzip form with a wrong checksum: %v", err)
	}
	if _, err := (&Variant{gz: []byte("not gzip")}).WriteTo(io.Discard); !errors.Is(err, ErrCorrupt) {
		t.Errorf("bytes that are not gzip: %v", err)
	}
	werr := errors.New("client went")
	if _, err := v.WriteTo(failingWriter{werr}); !errors.Is(err, werr) || errors.Is(err, ErrCorrupt) {
		t.Errorf("a writer's error: %v", err)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestTinyResourcesAreNotCompressed(t *testing.T) {
	r := NewResource([]byte(`{"total":0,"items":[]}`), time.Now())
	if r.Variant(Gzip) != r.Variant(Identity) || r.Variant(Brotli) != r.Variant(Identity) {
		t.Fatal("a tiny body should be served as identity whatever the client accepts")
	}
	if r.Variant(Identity).ContentEncoding != nil {
		t.Fatal("identity has no Content-Encoding")
	}
}

func TestMatchesETag(t *testing.T) {
	r := NewResource([]byte(strings.Repeat("x", 1000)), time.Now())
	core := strings.Trim(r.ETag(), `"`)
	cases := map[string]bool{
		r.ETag():                                 true,
		`"` + core + `-gz"`:                      true,
		`"` + core + `-br"`:                      true,
		`W/"` + core + `"`:                       true,
		`"other", ` + r.ETag():                   true,
		`*`:                                      true,
		`"other"`:                                false,
		`"` + core + `-zz"`:                      false,
		`"` + core[:10] + `"`:                    false,
		``:                                       false,
		`garbage`:                                false,
		`"unterminated`:                          false,
		`"a",  W/"b" ,"` + core + `-gz"`:         true,
		strings.Repeat(`"x",`, 50) + r.ETag():    true,
		`W/`:                                     false,
		`"other", *`:                             false, // "*" only alone
		` * `:                                    true,
		`""` + r.ETag():                          false, // tags must be separated
		r.ETag() + `x`:                           true,  // matched before the fault
		`"` + core + `", "` + core + `-gz"` + ``: true,
	}
	for header, want := range cases {
		if got := r.MatchesETag(header); got != want {
			t.Errorf("MatchesETag(%q) = %v, want %v", header, got, want)
		}
	}
}

func TestNotModifiedSince(t *testing.T) {
	mod := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := NewResource([]byte(`{}`), mod)
	for ims, want := range map[string]bool{
		r.LastModified()[0]:              true,
		"Sun, 01 Mar 2026 12:00:01 GMT":  true,
		"Sun, 01 Mar 2026 11:59:59 GMT":  false,
		"not a date":                     false,
		"Sunday, 01-Mar-26 12:00:00 GMT": true,
		// A date the server has not reached is invalid (RFC 9110 §13.1.3).
		time.Now().Add(time.Hour).UTC().Format(http.TimeFormat): false,
		"Fri, 01 Jan 9999 00:00:00 GMT":                         false,
	} {
		if got := r.NotModifiedSince(ims); got != want {
			t.Errorf("NotModifiedSince(%q) = %v, want %v", ims, got, want)
		}
	}
}

// If-Match compares strongly: a weak tag never matches (RFC 9110 §13.1.1).
func TestMatchesStrongETag(t *testing.T) {
	r := NewResource([]byte(strings.Repeat("x", 1000)), time.Now())
	core := strings.Trim(r.ETag(), `"`)
	for header, want := range map[string]bool{
		r.ETag():                        true,
		`"` + core + `-br"`:             true,
		`*`:                             true,
		`"other", ` + r.ETag():          true,
		`W/"` + core + `"`:              false,
		`W/"` + core + `-gz"`:           false,
		`W/"` + core + `", "other"`:     false,
		`W/"` + core + `", ` + r.ETag(): true,
		`"other"`:                       false,
	} {
		if got := r.MatchesStrongETag(header); got != want {
			t.Errorf("MatchesStrongETag(%q) = %v, want %v", header, got, want)
		}
	}
}

func TestMatchesETagDoesNotAllocate(t *testing.T) {
	r := NewResource([]byte(strings.Repeat("x", 1000)), time.Now())
	header := `"a", W/"b", ` + r.ETag()
	if n := testing.AllocsPerRun(100, func() { r.MatchesETag(header) }); n != 0 {
		t.Fatalf("MatchesETag allocates %.0f times", n)
	}
}

func TestPartRoundTrip(t *testing.T) {
	body := []byte(strings.Repeat(`{"title":"x"},`, 100))
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := &Part{Collection: Blog, Root: NewResource(body, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)),
		Posts:   map[string]*Resource{"a": NewResource([]byte(`{"id":"a"}`), time.Now())},
		Entries: 1, Refs: map[contentful.Ref]int{"Entry:a": 3}, FetchedAt: time.Now().UTC(), Requests: 1,
		Entities: map[contentful.Ref]contentful.Entity{"Entry:a": {Revision: 3, CreatedAt: "2025-01-01T00:00:00Z", Raw: []byte(`{"sys":{}}`)}},
		Marks:    map[contentful.Ref]Mark{"Entry:a": {Revision: 3, Since: since}, "Entry:b": {Revision: 2, Since: since, Gone: true}},
		Floor:    since}
	b, err := p.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	q, err := UnmarshalPart(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Encoding{Identity, Gzip, Brotli} {
		if !bytes.Equal(q.Root.Variant(e).Body, p.Root.Variant(e).Body) || q.Root.Variant(e).ETag[0] != p.Root.Variant(e).ETag[0] {
			t.Fatalf("encoding %d differs after a round trip", e)
		}
	}
	if q.Root.LastModified()[0] != p.Root.LastModified()[0] || q.Posts["a"].ETag() != p.Posts["a"].ETag() || q.Refs["Entry:a"] != 3 {
		t.Fatal("metadata differs after a round trip")
	}
	if !q.Marks["Entry:b"].Gone || !q.Marks["Entry:a"].Since.Equal(since) || string(q.Entities["Entry:a"].Raw) != `{"sys":{}}` || !q.Floor.Equal(since) {
		t.Fatalf("the revision ledger differs after a round trip: %+v", q.Marks)
	}
	if _, err := UnmarshalPart(b[:len(b)/2]); err == nil {
		t.Fatal("a truncated part decoded")
	}
}

// BenchmarkIdentityAnswer: an identity answer inflated from the gzip form,
// for a short post and a real-sized one (2 and 20 KB of blog-like JSON).
// compress/flate allocates its Huffman link tables for every dynamic
// block with long codes: a few small allocations an answer.
func BenchmarkIdentityAnswer(b *testing.B) {
	for _, n := range []int{2 << 10, 20 << 10} {
		v := NewResource(newCorpus(3).document(n), time.Now()).Variant(Identity)
		b.Run(strconv.Itoa(n>>10)+"KB", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				v.WriteTo(io.Discard)
			}
		})
	}
}
