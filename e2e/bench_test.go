package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/folio-cms/folio/contentful"
	"github.com/folio-cms/folio/internal/redistest"
)

// BenchmarkColdStartFromRedis: a new process with Contentful unreachable,
// from exec to the first 200 on /cv, served from the snapshot in Redis.
func BenchmarkColdStartFromRedis(b *testing.B) {
	rds := redistest.Start(b)
	_, api := space(b)
	startLeader(b, api, rds.URL).stop()

	var took []time.Duration
	for b.Loop() {
		addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(b))
		cmd := exec.Command(binary, "serve")
		cmd.Env = append(os.Environ(), "FOLIO_ADDR="+addr, "FOLIO_LOG_FORMAT=json", "CONTENTFUL_SPACE_ID=s",
			"CONTENTFUL_ACCESS_TOKEN="+token, "CONTENTFUL_BASE_URL=http://127.0.0.1:1", "CONTENTFUL_WEBHOOK_SECRET="+secret,
			"FOLIO_CV_TYPES=profile", "REDIS_URL="+rds.URL)
		began := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		for {
			res, err := http.Get("http://" + addr + "/cv")
			if err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					break
				}
			}
			if time.Since(began) > 10*time.Second {
				b.Fatal("no 200 on /cv within 10 s")
			}
			time.Sleep(500 * time.Microsecond)
		}
		took = append(took, time.Since(began))
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	b.ReportMetric(msOf(percentile(took, 50)), "p50-ms")
	b.ReportMetric(msOf(slices.Max(took)), "max-ms")
}

// BenchmarkChangeToAllReplicas: a webhook to a follower, until all three
// replicas serve the new revision.
func BenchmarkChangeToAllReplicas(b *testing.B) {
	rds := redistest.Start(b)
	apiSrv, api := space(b)
	fs, _, follower := replicas(b, api, rds.URL)
	var took []time.Duration
	rev := 1
	for b.Loop() {
		rev++
		if err := apiSrv.Put(post("p2", rev)); err != nil {
			b.Fatal(err)
		}
		began := time.Now()
		if code, body := follower.webhook("p2", rev, contentful.Publish); code != 202 {
			b.Fatalf("webhook: %d %s", code, body)
		}
		for _, f := range fs {
			for !f.serves("p2", rev) {
				if time.Since(began) > 10*time.Second {
					b.Fatal("a replica never served the change")
				}
				time.Sleep(500 * time.Microsecond)
			}
		}
		took = append(took, time.Since(began))
	}
	b.ReportMetric(msOf(percentile(took, 50)), "p50-ms")
	b.ReportMetric(msOf(percentile(took, 99)), "p99-ms")
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
