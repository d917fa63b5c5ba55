// Package redistest runs a real redis-server as a child process of a test.
//
// folio's Redis code is tested against the server it will meet in
// production, not an in-memory imitation, so that protocol details, expiry
// and outages behave as they really do. Each Server listens on its own free
// loopback port with its own temporary directory and no persistence, so
// tests can run in parallel and leave nothing behind. Besides one server
// (Start), it runs the deployments users outgrow one server into:
// StartSentinel (a primary, a replica and three sentinels, with Failover
// and Switchover) and StartCluster (three masters), each with its
// REDIS_URL.
//
// The binary comes from Debian's redis-server package. A machine without it
// fails the test with instructions instead of skipping it, because a skipped
// integration test looks like a passing one; `make test` installs it through
// scripts/test-deps.sh.
//
// The helpers talk RESP over a plain TCP connection, so this package needs
// nothing beyond the standard library.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binaryName is the executable looked up on PATH; a variable so that this
// package's own test can exercise the "not installed" failure.
var binaryName = "redis-server"

// fallbackDir is where Debian's package puts the binary, tried when PATH does
// not lead to it (a test run with a trimmed environment).
const fallbackDir = "/usr/bin"

// notFoundMessage is the failure text for a machine without redis-server; it
// says how to fix the machine because the test cannot do it itself.
const notFoundMessage = "redis-server not found on PATH: run `make test` (it installs redis-server with apt-get) or `apt-get install redis-server`"

// startTimeout bounds the wait for a new server to answer PING; a variable
// so that this package's own test can give up sooner on a hung server.
var startTimeout = 10 * time.Second

// Other timeouts. stopTimeout bounds a graceful shutdown before Stop falls
// back to SIGKILL; ioTimeout bounds each exchange made by Do, probeTimeout
// each readiness probe; pollInterval spaces the probes; portAttempts is how
// many ports Start tries when the one it chose is taken.
const (
	stopTimeout  = 10 * time.Second
	ioTimeout    = 5 * time.Second
	probeTimeout = time.Second
	pollInterval = 20 * time.Millisecond
	portAttempts = 3
)

// Server is a redis-server child process for tests. Its fields describe where
// it listens so that the code under test can be pointed at it; its methods
// stop, kill and restart it so that tests can simulate outages.
type Server struct {
	// Addr is the host:port the server listens on, "127.0.0.1:port", for
	// clients and net.Dial.
	Addr string
	// URL is the same address as a redis URL for database 0,
	// "redis://127.0.0.1:port/0", the form folio's REDIS_URL takes.
	URL string
	// Port is the TCP port alone, for code that builds its own address.
	Port int

	bin     string // path of the redis-server executable
	dir     string // temporary working directory, removed by the test's cleanup
	logPath string // redis's own log (--logfile)
	outPath string // the child's stdout and stderr, where config errors go
	// first and extra are the arguments of the server's role, before and
	// after the common ones (a Sentinel's configuration file and
	// --sentinel; --replicaof, --cluster-enabled): every launch, restarts
	// included, passes them.
	first, extra []string

	mu   sync.Mutex // guards proc
	proc *process   // the running (or last) child; nil before the first start
}

// process is one run of the redis-server binary. done is closed once the
// child has exited and err holds what Wait returned; err is written before
// done is closed, so reading it after <-done is race-free.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// exited reports whether the child has already exited, without blocking.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start launches redis-server on a free loopback port and returns once it
// answers PING, so the test can use it at once. The server keeps nothing on
// disk (--save "" --appendonly no), binds 127.0.0.1 only, runs with
// --protected-mode no so that any local client may connect without a
// password, and writes its log into its own temporary directory. It is
// stopped by t.Cleanup.
//
// If redis-server is not installed, Start fails the test with instructions
// rather than skipping it. If the server does not come up within 10 seconds,
// or exits, the failure message includes its log. A port taken by another
// process between choosing and binding it is retried with a new port.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, nil, nil)
}

// start is Start with arguments of a role: first (before the common ones:
// a configuration file and --sentinel) and extra (after them, computed
// again for each port tried, since they may name ports of their own:
// --cluster-port). A nil extra adds nothing.
func start(t testing.TB, first []string, extra func(t testing.TB, s *Server) []string) *Server {
	t.Helper()
	bin, err := lookBinary()
	if err != nil {
		t.Fatalf("%s (%v)", notFoundMessage, err)
	}
	dir := t.TempDir()
	s := &Server{
		bin:     bin,
		dir:     dir,
		logPath: filepath.Join(dir, "redis.log"),
		outPath: filepath.Join(dir, "redis.out"),
		first:   first,
	}
	// Registered after TempDir, so it runs before the directory is removed.
	t.Cleanup(s.Stop)

	var lastErr error
	for attempt := 1; attempt <= portAttempts; attempt++ {
		s.setPort(FreePort(t))
		if extra != nil {
			s.extra = extra(t, s)
		}
		lastErr = s.launch()
		if lastErr == nil {
			return s
		}
		if !errors.Is(lastErr, errPortInUse) {
			break
		}
		// Another process took the port after FreePort released it; the
		// child has exited, so a fresh port can be tried.
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// Stop shuts the server down gracefully and waits for it to exit, so that
// its port is free again when Stop returns. It sends SIGTERM and, should the
// server still be running after 10 seconds, SIGKILL. Stop is idempotent and
// safe on a server that was killed or has exited by itself; Start registers
// it with t.Cleanup.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGTERM, stopTimeout)
}

// Kill ends the server with SIGKILL, as a crash or an OOM kill would, and
// waits for it to be gone, so that a test sees an abrupt outage. It is safe
// on a server that is already stopped.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked(syscall.SIGKILL, stopTimeout)
}

// Restart starts the server again on the same port and waits until it
// answers PING, so that a test can check how its code recovers from an
// outage against an unchanged address. A server that is still running is
// stopped gracefully first. The data is gone: the server keeps nothing on
// disk. A server that does not come back fails the test with its log.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	if err := s.launch(); err != nil {
		t.Fatalf("redistest: restart on the same port: %v", err)
	}
}

// Do sends one command and returns its reply simplified to a string, for
// assertions that do not need a client library: a simple string or bulk
// string as its text ("OK", "PONG", a value), an integer as its decimal
// digits, a null as "(nil)", an error as "(error) " and its message, and an
// array as its elements, each simplified the same way, one per line (an empty
// array as ""). The order of KEYS' reply is unspecified, so sort before
// comparing.
//
// Each call opens its own connection, so Do may be used concurrently and
// across Restart; a server that cannot be reached fails the test, which is
// why Do must be called from the test's goroutine.
func (s *Server) Do(t testing.TB, args ...string) string {
	t.Helper()
	if len(args) == 0 {
		t.Fatalf("redistest: Do needs a command")
	}
	reply, err := roundTrip(s.Addr, args, ioTimeout)
	if err != nil {
		t.Fatalf("redistest: %s on %s: %v", strings.Join(args, " "), s.Addr, err)
	}
	return reply
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for
// tests that start a server in a subprocess and must tell it where to listen.
// It listens on port 0 to let the kernel choose, then closes the listener;
// another process could take the port before the caller binds it, so callers
// that can should retry with a new port when binding fails.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: finding a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("redistest: releasing port %d: %v", port, err)
	}
	return port
}

// lookBinary finds redis-server on PATH, or where Debian installs it.
func lookBinary() (string, error) {
	bin, err := exec.LookPath(binaryName)
	if err == nil {
		return bin, nil
	}
	fallback := filepath.Join(fallbackDir, binaryName)
	if fi, statErr := os.Stat(fallback); statErr == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return fallback, nil
	}
	return "", err
}

// setPort records the port the next launch binds.
func (s *Server) setPort(port int) {
	s.Port = port
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	s.URL = "redis://" + s.Addr + "/0"
}

// errPortInUse marks a launch that failed only because its port was taken.
var errPortInUse = errors.New("port already in use")

// launch starts the child on s.Port and waits for it to answer PING. On
// failure the child is gone and the error carries the server's output.
func (s *Server) launch() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil && !s.proc.exited() {
		return fmt.Errorf("redis-server on %s is still running", s.Addr)
	}

	// Output from earlier runs stays in the log (it helps explain a failed
	// restart); a marker shows where this run begins.
	out, err := os.OpenFile(s.outPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening %s: %w", s.outPath, err)
	}
	fmt.Fprintf(out, "--- redistest: starting %s on %s at %s\n", s.bin, s.Addr, time.Now().Format(time.RFC3339Nano))

	args := append(slices.Clone(s.first),
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--protected-mode", "no",
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--dir", s.dir,
		"--logfile", s.logPath,
	)
	cmd := exec.Command(s.bin, append(args, s.extra...)...)
	cmd.Dir = s.dir
	cmd.Stdout = out // an *os.File is handed to the child as is: no copying goroutine
	cmd.Stderr = out
	cmd.SysProcAttr = dieWithParent()
	err = cmd.Start()
	out.Close() // the child holds its own descriptor
	if err != nil {
		return fmt.Errorf("starting %s: %w", s.bin, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	s.proc = p

	deadline := time.Now().Add(startTimeout)
	var pingErr error
	for {
		if pingErr = ping(s.Addr, min(probeTimeout, time.Until(deadline))); pingErr == nil {
			return nil
		}
		select {
		case <-p.done:
			logs := s.logs()
			err := fmt.Errorf("redis-server on %s exited before answering PING (%v)%s", s.Addr, p.err, logs)
			if strings.Contains(logs, "Address already in use") {
				return fmt.Errorf("%w: %w", errPortInUse, err)
			}
			return err
		case <-time.After(pollInterval):
		}
		if time.Now().After(deadline) {
			s.stopLocked(syscall.SIGKILL, stopTimeout)
			return fmt.Errorf("redis-server on %s did not answer PING within %v (last error: %v)%s",
				s.Addr, startTimeout, pingErr, s.logs())
		}
	}
}

// stopLocked signals the child and waits up to timeout for it to exit, then
// kills it and waits for good. The caller holds s.mu.
func (s *Server) stopLocked(sig syscall.Signal, timeout time.Duration) {
	p := s.proc
	if p == nil || p.exited() {
		return
	}
	// An error here means the process has just exited; Wait reports it.
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return
	case <-time.After(timeout):
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// logs returns the server's stdout, stderr and log file, trimmed to their
// last lines, for failure messages.
func (s *Server) logs() string {
	var b strings.Builder
	for _, f := range []struct{ name, path string }{
		{"stdout/stderr", s.outPath},
		{"log file", s.logPath},
	} {
		data, err := os.ReadFile(f.path)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(&b, "\n--- redis-server %s %s: %v", f.name, f.path, err)
			}
			continue
		}
		text := strings.TrimSpace(string(data))
		if text == "" {
			continue
		}
		fmt.Fprintf(&b, "\n--- redis-server %s (%s):\n%s", f.name, f.path, tail(text, 40))
	}
	return b.String()
}

// tail returns the last n lines of text.
func tail(text string, n int) string {
	lines := strings.Split(text, "\n")
	if len(lines) <= n {
		return text
	}
	return fmt.Sprintf("[... %d earlier lines]\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}

// dieWithParent asks the kernel to SIGKILL the child when the test process
// dies (a -timeout panic or a kill skips t.Cleanup), so no redis-server
// outlives its test. Pdeathsig exists on Linux only; reflection keeps this
// file building elsewhere, where the protection is simply absent. It is best
// effort: on Linux the signal follows the OS thread that started the child,
// and Go ends a thread only when a goroutine locked to it exits.
func dieWithParent() *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{}
	f := reflect.ValueOf(attr).Elem().FieldByName("Pdeathsig")
	if f.IsValid() && f.CanSet() && f.Type() == reflect.TypeOf(syscall.SIGKILL) {
		f.Set(reflect.ValueOf(syscall.SIGKILL))
	}
	return attr
}

// ping reports whether the server at addr answers PING with PONG within
// timeout.
func ping(addr string, timeout time.Duration) error {
	reply, err := roundTrip(addr, []string{"PING"}, timeout)
	if err != nil {
		return err
	}
	if reply != "PONG" {
		return fmt.Errorf("PING answered %q", reply)
	}
	return nil
}

// roundTrip sends one command as a RESP array of bulk strings on a new
// connection and reads one reply, all within timeout.
func roundTrip(addr string, args []string, timeout time.Duration) (string, error) {
	if timeout <= 0 {
		return "", errors.New("timed out")
	}
	deadline := time.Now().Add(timeout)
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return "", err
	}
	return readReply(bufio.NewReader(conn))
}

// readReply reads one RESP2 reply and simplifies it as Do documents.
func readReply(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("reading reply: %w", err)
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply line")
	}
	kind, rest := line[0], line[1:]
	switch kind {
	case '+', ':':
		return rest, nil
	case '-':
		return "(error) " + rest, nil
	case '$':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return "", fmt.Errorf("bad bulk length %q", rest)
		}
		if n < 0 {
			return "(nil)", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("reading bulk string: %w", err)
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(rest)
		if err != nil {
			return "", fmt.Errorf("bad array length %q", rest)
		}
		if n < 0 {
			return "(nil)", nil
		}
		items := make([]string, n)
		for i := range items {
			if items[i], err = readReply(r); err != nil {
				return "", err
			}
		}
		return strings.Join(items, "\n"), nil
	default:
		return "", fmt.Errorf("unsupported reply %q", line)
	}
}
