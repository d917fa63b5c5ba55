package httpserver

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// short are limits a test can outwait; the mechanism is the same as
// Default's.
var short = Limits{ReadHeader: 200 * time.Millisecond, Read: 400 * time.Millisecond, Write: time.Second,
	Idle: 200 * time.Millisecond, MaxHeaderBytes: 4 << 10}

// serve runs l's server for h on loopback until the test ends.
func serve(t *testing.T, l Limits, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := l.Server(h)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// closedWithin reports whether the server closes c before limit passes,
// reading (and discarding) whatever it sends first.
func closedWithin(c net.Conn, limit time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func TestNewHasTheDefaultLimits(t *testing.T) {
	s := New(http.NotFoundHandler())
	if s.ReadHeaderTimeout != Default.ReadHeader || s.ReadTimeout != Default.Read || s.WriteTimeout != Default.Write ||
		s.IdleTimeout != Default.Idle || s.MaxHeaderBytes != Default.MaxHeaderBytes || s.ReadHeaderTimeout <= 0 {
		t.Fatalf("New: %+v", s)
	}
}

// A slowloris client sends its headers a byte at a time, each byte well
// inside any per-read timeout: the server must still close it once the
// header deadline passes, and never call the handler.
func TestSlowlorisIsCut(t *testing.T) {
	var called atomic.Bool
	addr := serve(t, short, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called.Store(true) }))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan struct{})
	go func() {
		closedWithin(c, 30*time.Second)
		close(closed)
	}()
	msg := "GET / HTTP/1.1\r\nHost: folio\r\nX-Slow: " + strings.Repeat("a", 10_000) // 100× the header deadline at this pace
	for i := 0; i < len(msg); i++ {
		select {
		case <-closed:
			if called.Load() {
				t.Fatal("the handler ran for an unfinished request")
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := c.Write([]byte{msg[i]}); err != nil {
			<-closed
			return
		}
	}
	t.Fatal("the server kept a slowloris connection for 200 s")
}

// A body trickled in is cut at the read deadline: the handler's read fails.
func TestSlowBodyIsCut(t *testing.T) {
	readErr := make(chan error, 1)
	addr := serve(t, short, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
	}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: folio\r\nContent-Length: 10000\r\n\r\n")
	for i := 0; i < 10_000; i++ {
		select {
		case err := <-readErr:
			if err == nil {
				t.Fatal("the trickled body was read whole")
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
		if _, err := c.Write([]byte("x")); err != nil {
			break
		}
	}
	if err := <-readErr; err == nil {
		t.Fatal("the trickled body was read whole")
	}
}

func TestOversizedHeaderIs431(t *testing.T) {
	addr := serve(t, short, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: folio\r\nX-Big: "+strings.Repeat("a", short.MaxHeaderBytes+8<<10)+"\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", res.StatusCode)
	}
}

func TestIdleConnectionIsClosed(t *testing.T) {
	addr := serve(t, short, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: folio\r\n\r\n")
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("first request: %v %v", res, err)
	}
	io.Copy(io.Discard, res.Body)
	if !closedWithin(c, 30*time.Second) {
		t.Fatal("an idle kept-alive connection was kept for 150 idle timeouts")
	}
}
