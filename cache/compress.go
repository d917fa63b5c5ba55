package cache

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"io"
	"math"
	"math/bits"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
	"golang.org/x/sync/errgroup"
)

// compressLevels picks the gzip level and brotli quality by identity size:
// the first row whose upTo is at least the body's length applies.
//
// Measured by BenchmarkCompress (generated blog JSON through the pooled
// writers, best of 3 on the 2-core build machine; ratio is identity bytes
// over compressed bytes):
//
//   - Up to 64 KB: posts (10-30 KB), the CV, list pages. gzip 6:
//     65-75 MB/s for 4.53 (10 KB) and 5.62 (30 KB); 9 is under 1% smaller
//     at half to three quarters of the speed. Brotli 6: 35-43 MB/s for 4.68
//     and 5.75; 5 is 1% larger for 10% less time, 9 under 1% smaller for
//     30-45% more. Brotli 11 is 13% smaller but runs at 0.5 MB/s at every
//     size (2 us a byte: 20 ms a post, 30 s for 1,000 posts), so no size
//     makes it cheap, and the bodies it would shrink fit in TCP's first
//     window anyway.
//   - Up to 1 MB: large list pages. gzip 6: 36-46 MB/s for 6.49-6.59.
//     Brotli 5: 44-45 MB/s for 6.57-7.01; 6 is 2% smaller for 20% more time.
//   - Above 1 MB: a whole blog in one list. gzip 1: 142-168 MB/s for 5.02,
//     where 5 is 20% smaller at a third of the speed (49-55 MB/s); brotli,
//     which most clients take, stays dense at quality 4: 33-63 MB/s for
//     6.60-6.86.
//
// So a 1,000-post blog (15 MB of posts, 1.5 MB of list pages) costs about
// 0.65 s of CPU, half that in time on two cores through NewResources
// (BenchmarkBuildResources reports cpu-ms/op); brotli 11 cost over 30 s.
//
// klauspost/compress's gzip was measured too and not taken: at 9 it matched
// the standard library's speed and ratio, at 5 and 6 it ran 2-3 times as
// fast for 4-8% larger output, at 1 (above 1 MB) 1.6 times as fast for 4%
// smaller, 40 ms on a 15 MB list; brotli, which it does not offer, is most
// of the cost.
var compressLevels = [...]struct {
	upTo   int // identity bytes, inclusive
	gzip   int // 1 to 9
	brotli int // 0 to 11
}{
	{64 << 10, 6, 6},
	{1 << 20, 6, 5},
	{math.MaxInt, 1, 4},
}

// levelsFor returns the gzip level and brotli quality for n identity bytes.
func levelsFor(n int) (gzipLevel, brotliQuality int) {
	for _, l := range compressLevels {
		if n <= l.upTo {
			return l.gzip, l.brotli
		}
	}
	panic("unreachable: the last row takes any size")
}

// compressChunk is how much is compressed between two looks at the context:
// 5 to 25 ms at the levels above, so a shutdown does not wait for a large
// list. It is no smaller than 1 MiB because brotli takes the length of its
// first write as the size hint that chooses its context modelling at 1 MiB:
// quarter-MiB writes made an 8 MB list 8% larger at quality 4.
const compressChunk = 1 << 20

// Writers are pooled by their settings: a new gzip writer allocates and
// clears about 800 KB of tables and a brotli writer 0.5 to 1 MB, which cost
// more than compressing a 10 KB post (BenchmarkCompress, 10 KB: gzip 9 at
// 13 MB/s with a new writer each time, 54 MB/s reused; brotli 6 at 12 and
// 43).
var (
	gzipWriters   [gzip.BestCompression + 1]sync.Pool // by level
	brotliWriters [brotliMaxQuality + 1][25]sync.Pool // by quality and window
	scratch       = sync.Pool{New: func() any { return new(bytes.Buffer) }}
)

const brotliMaxQuality = 11

// gzipBytes returns b's gzip form at level, or ctx's error if it ends first.
func gzipBytes(ctx context.Context, b []byte, level int) ([]byte, error) {
	pool := &gzipWriters[level]
	buf := scratch.Get().(*bytes.Buffer)
	buf.Reset()
	defer scratch.Put(buf)
	w, _ := pool.Get().(*gzip.Writer)
	if w == nil {
		w, _ = gzip.NewWriterLevel(buf, level) // the level is valid
	} else {
		w.Reset(buf)
	}
	defer pool.Put(w)
	return compress(ctx, w, buf, b)
}

// brotliBytes returns b's brotli form at quality, or ctx's error if it ends
// first. The window fits the document: the default 4 MiB window costs tens
// of MB of tables even for a 2 KB post.
func brotliBytes(ctx context.Context, b []byte, quality int) ([]byte, error) {
	lgwin := window(len(b))
	pool := &brotliWriters[quality][lgwin]
	buf := scratch.Get().(*bytes.Buffer)
	buf.Reset()
	defer scratch.Put(buf)
	w, _ := pool.Get().(*brotli.Writer)
	if w == nil {
		w = brotli.NewWriterOptions(buf, brotli.WriterOptions{Quality: quality, LGWin: lgwin})
	} else {
		w.Reset(buf)
	}
	defer pool.Put(w)
	return compress(ctx, w, buf, b)
}

// compress writes b through w into buf a chunk at a time, looking at ctx
// between chunks, and returns a copy of exactly the compressed length (the
// resource keeps it for its lifetime; the scratch buffer goes back).
func compress(ctx context.Context, w io.WriteCloser, buf *bytes.Buffer, b []byte) ([]byte, error) {
	for len(b) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n := min(len(b), compressChunk)
		if chunkHook != nil {
			chunkHook()
		}
		w.Write(b[:n]) // writes into a bytes.Buffer do not fail
		b = b[n:]
	}
	w.Close()
	return bytes.Clone(buf.Bytes()), nil
}

// chunkHook, when set (by tests only), is called before each chunk is
// compressed: how much work follows a cancellation is counted, not timed.
var chunkHook func()

// window is the smallest brotli window (log2) that holds n bytes, within the
// format's 10..24.
func window(n int) int {
	return min(max(bits.Len(uint(n)), 10), 24)
}

// ResourceInput is one document for NewResources.
type ResourceInput struct {
	Body     []byte    // the identity JSON
	Modified time.Time // its Last-Modified instant
	// Was, when not nil and holding exactly Body, is returned as it is and
	// nothing is compressed: a refresh then compresses only what changed.
	Was *Resource
}

// NewResources builds one resource per input, as NewResource would, with
// the compression spread over at most GOMAXPROCS goroutines; out[i] is
// in[i]'s resource and the bytes do not depend on the scheduling. The
// largest bodies start first, so a big list does not run alone at the end.
// If ctx ends first it returns ctx's error within a few milliseconds (the
// compressors look at it every compressChunk bytes) and no resources.
func NewResources(ctx context.Context, in []ResourceInput) ([]*Resource, error) {
	out := make([]*Resource, len(in))
	gz := make([][]byte, len(in))
	br := make([][]byte, len(in))
	order := make([]int, 0, len(in))
	for i, x := range in {
		if x.Was != nil && x.Was.Holds(x.Body) {
			out[i] = x.Was
		} else if len(x.Body) >= minCompressSize {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(in[b].Body), len(in[a].Body)) })

	// Each body is two tasks, gzip and brotli, so even a single large body
	// uses two cores.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, i := range order {
		level, quality := levelsFor(len(in[i].Body))
		if gctx.Err() != nil {
			break
		}
		g.Go(func() (err error) {
			br[i], err = brotliBytes(gctx, in[i].Body, quality)
			return err
		})
		g.Go(func() (err error) {
			gz[i], err = gzipBytes(gctx, in[i].Body, level)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, x := range in {
		if out[i] == nil {
			out[i] = assemble(x.Body, x.Modified, gz[i], br[i])
		}
	}
	return out, nil
}
