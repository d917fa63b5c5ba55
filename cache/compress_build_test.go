//go:build unix

package cache

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkBuildResources builds 1,000 posts of 12 to 18 KB (a cold start
// of a 1,000-post blog, list aside): one NewResource after another, and
// through NewResources on GOMAXPROCS goroutines. cpu-ms/op is the process's
// CPU time (all threads, GC included) per build, which the wall time hides.
func BenchmarkBuildResources(b *testing.B) {
	c := newCorpus(1000)
	in := make([]ResourceInput, 1000)
	var total int64
	for i := range in {
		in[i] = ResourceInput{Body: c.postJSON(12<<10 + i%7<<10), Modified: time.Unix(int64(i), 0)}
		total += int64(len(in[i].Body))
	}
	run := func(b *testing.B, build func()) {
		b.SetBytes(total)
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			build()
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
	b.Run("serial", func(b *testing.B) {
		run(b, func() {
			for _, x := range in {
				NewResource(x.Body, x.Modified)
			}
		})
	})
	b.Run(fmt.Sprintf("parallel-%d", runtime.GOMAXPROCS(0)), func(b *testing.B) {
		run(b, func() {
			if _, err := NewResources(context.Background(), in); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// cpuTime is the user and system time of the whole process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
