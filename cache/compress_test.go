package cache

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
)

func TestLevelsForCoversEverySize(t *testing.T) {
	last := 0
	for _, l := range compressLevels {
		if l.upTo <= last {
			t.Fatalf("rows out of order at %d", l.upTo)
		}
		last = l.upTo
	}
	if last != math.MaxInt {
		t.Fatal("the last row must take any size")
	}
	for _, n := range []int{0, 2 << 10, 64 << 10, 64<<10 + 1, 1 << 20, 1<<20 + 1, 1 << 30} {
		g, b := levelsFor(n)
		if g < gzip.BestSpeed || g > gzip.BestCompression || b < 0 || b > brotliMaxQuality {
			t.Fatalf("levelsFor(%d) = %d, %d", n, g, b)
		}
	}
}

// Pooled writers must give the bytes a new writer gives, whatever they
// compressed before: the output is the same on every build.
func TestPooledWritersMatchNewWriters(t *testing.T) {
	c := newCorpus(7)
	bodies := [][]byte{c.document(10 << 10), c.document(300 << 10), c.document(10 << 10), c.document(3 << 20), c.document(12 << 10)}
	for _, body := range bodies {
		level, quality := levelsFor(len(body))
		var want bytes.Buffer
		gw, _ := gzip.NewWriterLevel(&want, level)
		gw.Write(body)
		gw.Close()
		got, err := gzipBytes(t.Context(), body, level)
		if err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("gzip of %d bytes differs from a new writer's (err %v)", len(body), err)
		}
		want.Reset()
		bw := brotli.NewWriterOptions(&want, brotli.WriterOptions{Quality: quality, LGWin: window(len(body))})
		bw.Write(body)
		bw.Close()
		got, err = brotliBytes(t.Context(), body, quality)
		if err != nil || !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("brotli of %d bytes differs from a new writer's (err %v)", len(body), err)
		}
		if got, _ := io.ReadAll(brotli.NewReader(bytes.NewReader(got))); !bytes.Equal(got, body) {
			t.Fatal("brotli does not decode to the body")
		}
	}
}

func TestNewResourcesMatchesNewResource(t *testing.T) {
	c := newCorpus(8)
	mod := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	reused := NewResource(c.document(5<<10), mod)
	in := []ResourceInput{
		{Body: []byte(`{"total":0,"items":[]}`), Modified: mod}, // too small to compress
		{Body: c.document(2 << 10), Modified: mod},
		{Body: c.document(1<<20 + 1000), Modified: mod.Add(time.Hour)},
		{Body: reused.Body(), Modified: mod, Was: reused},
		{Body: c.document(15 << 10), Modified: mod, Was: reused}, // other bytes: built anew
		{Body: c.document(200 << 10), Modified: mod},
	}
	for range 20 {
		in = append(in, ResourceInput{Body: c.document(15 << 10), Modified: mod})
	}
	got, err := NewResources(t.Context(), in)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("%d resources for %d inputs", len(got), len(in))
	}
	if got[3] != reused {
		t.Fatal("an input whose Was holds the same bytes must return Was")
	}
	for i, x := range in {
		want := NewResource(x.Body, x.Modified)
		if got[i].ModTime() != want.ModTime() || got[i].LastModified()[0] != want.LastModified()[0] {
			t.Fatalf("input %d: Last-Modified %v, want %v", i, got[i].ModTime(), want.ModTime())
		}
		for _, e := range []Encoding{Identity, Gzip, Brotli} {
			g, w := got[i].Variant(e), want.Variant(e)
			if !bytes.Equal(g.Body, w.Body) || g.ETag[0] != w.ETag[0] ||
				g.ContentLength[0] != w.ContentLength[0] || fmt.Sprint(g.ContentEncoding) != fmt.Sprint(w.ContentEncoding) {
				t.Fatalf("input %d, encoding %d: differs from NewResource", i, e)
			}
		}
	}
}

func TestNewResourcesStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if r, err := NewResources(ctx, []ResourceInput{{Body: newCorpus(9).document(20 << 10)}}); !errors.Is(err, context.Canceled) || r != nil {
		t.Fatalf("a cancelled build returned %v, %v", len(r), err)
	}

	// Large lists take seconds at these levels; a shutdown does not wait
	// for them: the compressors look at ctx every compressChunk bytes, so
	// once ctx ends each running task compresses at most the chunk it is
	// in, and no body starts. Counted, not timed: under -race on a busy
	// machine a chunk alone can take seconds.
	big := newCorpus(10).document(3 << 20)
	in := make([]ResourceInput, 16)
	for i := range in {
		in[i] = ResourceInput{Body: big}
	}
	var chunks, atCancel atomic.Int64
	chunkHook = func() { chunks.Add(1) }
	t.Cleanup(func() { chunkHook = nil })
	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(50*time.Millisecond, func() {
		atCancel.Store(chunks.Load())
		cancel()
	})
	r, err := NewResources(ctx, in)
	if !errors.Is(err, context.Canceled) || r != nil {
		t.Fatalf("got %d resources, %v; want context.Canceled", len(r), err)
	}
	// 16 bodies of 3 chunks in two encodings is 96 chunks; after the
	// cancellation, each of GOMAXPROCS tasks may be entering one more.
	if after := chunks.Load() - atCancel.Load(); after > int64(runtime.GOMAXPROCS(0)) {
		t.Fatalf("%d chunks compressed after the context ended (of %d in all), want at most %d", after, chunks.Load(), runtime.GOMAXPROCS(0))
	}
}

// benchSizes are the body sizes of BenchmarkCompress: a CV or short post,
// typical posts (10 to 30 KB), and post lists from a page to a large blog.
var benchSizes = []struct {
	name string
	size int
}{{"2KB", 2 << 10}, {"10KB", 10 << 10}, {"30KB", 30 << 10}, {"256KB", 256 << 10}, {"1MB", 1 << 20}, {"8MB", 8 << 20}}

// BenchmarkCompress measures the candidate levels on generated blog JSON
// through the pooled writers NewResource uses: MB/s of identity input, and
// ratio (identity bytes / compressed bytes). The "new" cases make a writer
// per call, as folio did before the pools. compressLevels cites its figures.
func BenchmarkCompress(b *testing.B) {
	type codec struct {
		name string
		fn   func([]byte) []byte
	}
	var codecs []codec
	for _, l := range []int{1, 5, 6, 9} {
		codecs = append(codecs, codec{fmt.Sprintf("gzip-%d", l), func(p []byte) []byte {
			out, _ := gzipBytes(context.Background(), p, l)
			return out
		}})
	}
	for _, q := range []int{4, 5, 6, 9, 11} {
		codecs = append(codecs, codec{fmt.Sprintf("br-%d", q), func(p []byte) []byte {
			out, _ := brotliBytes(context.Background(), p, q)
			return out
		}})
	}
	codecs = append(codecs,
		codec{"gzip-9-new", func(p []byte) []byte {
			var buf bytes.Buffer
			w, _ := gzip.NewWriterLevel(&buf, 9)
			w.Write(p)
			w.Close()
			return buf.Bytes()
		}},
		codec{"br-6-new", func(p []byte) []byte {
			var buf bytes.Buffer
			w := brotli.NewWriterOptions(&buf, brotli.WriterOptions{Quality: 6, LGWin: window(len(p))})
			w.Write(p)
			w.Close()
			return buf.Bytes()
		}})
	for _, s := range benchSizes {
		body := newCorpus(uint64(s.size)).document(s.size)
		for _, c := range codecs {
			b.Run(s.name+"/"+c.name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				var out []byte
				for b.Loop() {
					out = c.fn(body)
				}
				b.ReportMetric(float64(len(body))/float64(len(out)), "ratio")
			})
		}
	}
}
