package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMUnderLoadLosesNoRequest: Watchtower (and `docker stop`) send
// SIGTERM to a folio that is serving. 32 keep-alive clients hammer the
// content routes in all three codings, and four slow clients are halfway
// through reading a 1.5 MB post, when folio gets SIGTERM. Every request must
// be answered whole (200, the body as long as Content-Length says, or a
// chunked body properly ended), or refused before it was accepted (the dial
// fails: the listener is closed). Nothing may break after the request was
// accepted: no reset or EOF mid-response, no 5xx.
//
// An idle kept-alive connection the server closes may cross a request the
// client was sending on it; the server never read that request, and the
// client sends it again (RFC 9112 §9.3.1: idempotent requests may be
// retried; Go's Transport, browsers and proxies do), on a new connection,
// which is refused. Such requests count as refused, and the test says how
// many there were.
func TestSIGTERMUnderLoadLosesNoRequest(t *testing.T) {
	apiSrv, api := space(t)
	// Larger than the kernel lets a socket's send buffer grow (tcp_wmem's
	// 4 MiB maximum) plus the slow readers' small receive buffers: the server
	// is still writing these answers when SIGTERM comes.
	big := make([]byte, 6<<20)
	rand.Read(big)
	if err := apiSrv.Put(entry("big", "blogPost", 1, fmt.Sprintf(`{"slug":"big","title":"Big","body":%q}`,
		base64.StdEncoding.EncodeToString(big)))); err != nil {
		t.Fatal(err)
	}
	f := start(t, api, "")
	f.until("ready", 20*time.Second, func() bool { return f.status("/readyz") == 200 && f.status("/blog/big") == 200 })

	var (
		mu      sync.Mutex
		results []request
		served  atomic.Int64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	record := func(r request) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}

	// Slow readers: headers in, the first bytes of the body read, then 64 KiB
	// every 10 ms through a 64 KiB receive buffer, so their answers are
	// being written when SIGTERM comes and for a second after.
	const slow = 4
	midBody := make(chan struct{}, slow)
	var readAtSignal [slow]atomic.Int64
	var slowResults [slow]request
	sent := make(chan struct{})
	for i := range slow {
		wg.Go(func() {
			c := newClient()
			c.Transport.(*http.Transport).DialContext = (&net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
				var err error
				rc.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
				return err
			}}).DialContext
			defer c.CloseIdleConnections()
			slowResults[i] = c.do(f.URL+"/blog/big", []string{"gzip", "br"}[i%2], func(body io.Reader) (int64, error) {
				buf := make([]byte, 64<<10)
				var n int64
				for first := true; ; first = false {
					k, err := io.ReadFull(body, buf)
					n += int64(k)
					if first {
						midBody <- struct{}{}
						<-sent
						readAtSignal[i].Store(n)
					}
					if err == io.EOF || err == io.ErrUnexpectedEOF {
						// ReadFull's short last read; the length check decides.
						return n, nil
					}
					if err != nil {
						return n, err
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
			record(slowResults[i])
		})
	}
	for range slow {
		<-midBody
	}

	// The load: 32 keep-alive clients, each one connection, until folio is
	// gone and a little after.
	paths := []string{"/blog", "/cv", "/blog/p1", "/blog?page=1"}
	codings := []string{"gzip", "br", "identity"}
	for i := range 32 {
		wg.Go(func() {
			c := newClient()
			defer c.CloseIdleConnections()
			for n := i; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				r := c.do(f.URL+paths[n%len(paths)], codings[n%len(codings)], nil)
				record(r)
				if r.status == http.StatusOK {
					served.Add(1)
				}
			}
		})
	}
	for deadline := time.Now().Add(20 * time.Second); served.Load() < 2000 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}

	signalled := time.Now()
	f.cmd.Process.Signal(syscall.SIGTERM)
	close(sent)
	select {
	case <-f.done:
	case <-time.After(15 * time.Second):
		t.Error("folio did not exit within 15 s of SIGTERM")
		f.kill()
	}
	exited := time.Now()
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()

	var ok, refused, retried, duringDrain int
	var broken []request
	for _, r := range results {
		switch {
		case r.complete():
			ok++
			if r.end.After(signalled) {
				duringDrain++
			}
		case r.refused():
			refused++
			if r.attempts > 1 {
				retried++
			}
		default:
			broken = append(broken, r)
		}
	}
	t.Logf("%d requests: %d answered whole (%d of them finished after SIGTERM), %d refused before they were accepted "+
		"(%d on a kept-alive connection the server closed unread, sent again by the client); folio exited %s after SIGTERM",
		len(results), ok, duringDrain, refused, retried, exited.Sub(signalled).Round(time.Millisecond))
	for i, r := range broken {
		if i == 10 {
			t.Errorf("... and %d more", len(broken)-10)
			break
		}
		t.Errorf("lost: %s", r)
	}
	if code := f.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("folio exited %d, want 0 (a clean drain)", code)
	}
	if !strings.Contains(f.logs.String(), `"msg":"stopped"`) {
		t.Errorf("folio did not finish its drain cleanly:\n%s", tail(f.logs.String(), 20))
	}
	// The test tested something: answers were being written across SIGTERM
	// (more of each slow reader's answer was left than the kernel's buffers
	// hold), and the load went on until it was refused.
	for i := range slow {
		if left := slowResults[i].length - readAtSignal[i].Load(); left < 4<<20+2*64<<10 {
			t.Errorf("slow reader %d had %d bytes left at SIGTERM: the kernel may have held them all", i, left)
		}
	}
	if duringDrain < slow || refused == 0 {
		t.Errorf("%d answers finished after SIGTERM and %d requests were refused: the load did not span the shutdown", duringDrain, refused)
	}
}

// client is one keep-alive HTTP/1.1 connection's worth of client.
type client struct{ *http.Client }

func newClient() client {
	return client{&http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConnsPerHost: 1,
		DisableCompression:  true,
	}}}
}

// request is what happened to one GET.
type request struct {
	url, coding  string
	status       int
	length, read int64 // Content-Length (-1: chunked) and bytes read
	attempts     int   // connections the Transport used: 2 when it sent the request again
	headers      bool  // the status line arrived
	err          error
	end          time.Time
}

func (r request) complete() bool {
	return r.err == nil && r.status == http.StatusOK && (r.length < 0 || r.read == r.length)
}

// refused: the request never reached a connection folio accepted; the
// (last) dial failed.
func (r request) refused() bool {
	var op *net.OpError
	return !r.headers && errors.As(r.err, &op) && op.Op == "dial"
}

func (r request) String() string {
	return fmt.Sprintf("GET %s (%s): status %d, %d of %d bytes, %d connection(s), headers received %t: %v",
		r.url, r.coding, r.status, r.read, r.length, r.attempts, r.headers, r.err)
}

// do sends one GET and reads the body with read (io.Copy to nowhere when nil).
func (c client) do(url, coding string, read func(io.Reader) (int64, error)) request {
	r := request{url: url, coding: coding, length: -1}
	trace := &httptrace.ClientTrace{
		GotConn:              func(httptrace.GotConnInfo) { r.attempts++ },
		GotFirstResponseByte: func() { r.headers = true },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodGet, url, nil)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Accept-Encoding", coding)
	res, err := c.Do(req)
	if err != nil {
		r.err = err
		r.end = time.Now()
		return r
	}
	defer res.Body.Close()
	r.status, r.length = res.StatusCode, res.ContentLength
	if read == nil {
		read = func(b io.Reader) (int64, error) { return io.Copy(io.Discard, b) }
	}
	r.read, r.err = read(res.Body)
	r.end = time.Now()
	return r
}
