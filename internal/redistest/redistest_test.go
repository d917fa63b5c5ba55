package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestLifecycle walks one server through everything an outage test does:
// use it, stop it, restart it on the same port, kill it, restart it again.
func TestLifecycle(t *testing.T) {
	s := Start(t)

	if want := fmt.Sprintf("127.0.0.1:%d", s.Port); s.Addr != want {
		t.Errorf("Addr = %q, want %q", s.Addr, want)
	}
	if want := "redis://" + s.Addr + "/0"; s.URL != want {
		t.Errorf("URL = %q, want %q", s.URL, want)
	}
	if got := s.Do(t, "PING"); got != "PONG" {
		t.Fatalf("PING = %q, want PONG", got)
	}
	if got := s.Do(t, "SET", "greeting", "hello world"); got != "OK" {
		t.Fatalf("SET = %q, want OK", got)
	}
	if got := s.Do(t, "GET", "greeting"); got != "hello world" {
		t.Fatalf("GET = %q, want %q", got, "hello world")
	}

	addr := s.Addr
	s.Stop()
	assertDown(t, addr)
	s.Stop() // idempotent

	s.Restart(t)
	if s.Addr != addr {
		t.Fatalf("Restart moved the server from %s to %s", addr, s.Addr)
	}
	if got := s.Do(t, "PING"); got != "PONG" {
		t.Fatalf("PING after Restart = %q, want PONG", got)
	}
	if got := s.Do(t, "GET", "greeting"); got != "(nil)" {
		t.Errorf("GET after Restart = %q, want (nil): the server must keep nothing on disk", got)
	}

	s.Kill()
	assertDown(t, addr)
	s.Kill() // safe on a dead server
	s.Stop()

	s.Restart(t)
	if got := s.Do(t, "PING"); got != "PONG" {
		t.Fatalf("PING after Kill and Restart = %q, want PONG", got)
	}
	// Restart on a running server stops it first.
	s.Do(t, "SET", "k", "v")
	s.Restart(t)
	if got := s.Do(t, "DBSIZE"); got != "0" {
		t.Errorf("DBSIZE after Restart of a running server = %q, want 0", got)
	}
	// Cleanup stops it.
}

// TestDoReplies checks how Do simplifies each kind of RESP reply.
func TestDoReplies(t *testing.T) {
	t.Parallel()
	s := Start(t)

	steps := []struct {
		args []string
		want string
	}{
		{[]string{"DBSIZE"}, "0"},
		{[]string{"GET", "missing"}, "(nil)"},
		{[]string{"KEYS", "*"}, ""},
		{[]string{"INCR", "counter"}, "1"},
		{[]string{"INCRBY", "counter", "-5"}, "-4"},
		{[]string{"SET", "binary", "a\r\nb $3\r\n"}, "OK"},
		{[]string{"GET", "binary"}, "a\r\nb $3\r\n"},
		{[]string{"SET", "empty", ""}, "OK"},
		{[]string{"GET", "empty"}, ""},
		{[]string{"DBSIZE"}, "3"},
		{[]string{"HGETALL", "nothing"}, ""},
		{[]string{"RPUSH", "list", "x", "y"}, "2"},
		{[]string{"LRANGE", "list", "0", "-1"}, "x\ny"},
		{[]string{"GET", "list"}, "(error) WRONGTYPE Operation against a key holding the wrong kind of value"},
		{[]string{"CONFIG", "GET", "save"}, "save\n"},
		{[]string{"CONFIG", "GET", "appendonly"}, "appendonly\nno"},
		{[]string{"CONFIG", "GET", "bind"}, "bind\n127.0.0.1"},
		{[]string{"CONFIG", "GET", "protected-mode"}, "protected-mode\nno"},
	}
	for _, st := range steps {
		if got := s.Do(t, st.args...); got != st.want {
			t.Errorf("Do(%q) = %q, want %q", st.args, got, st.want)
		}
	}

	keys := strings.Split(s.Do(t, "KEYS", "*"), "\n")
	slices.Sort(keys)
	if want := []string{"binary", "counter", "empty", "list"}; !slices.Equal(keys, want) {
		t.Errorf("KEYS * = %q, want %q", keys, want)
	}
	if got := s.Do(t, "NOSUCHCOMMAND"); !strings.HasPrefix(got, "(error) ERR unknown command") {
		t.Errorf("unknown command = %q, want an (error) ERR reply", got)
	}
	// Nested arrays flatten to one element per line.
	if got := s.Do(t, "EVAL", "return {1, {'a', 'b'}, 'c'}", "0"); got != "1\na\nb\nc" {
		t.Errorf("nested array = %q", got)
	}
}

// TestNothingOnDisk checks that a stopped server leaves no dump or
// append-only file behind: tests must not share state through disk.
func TestNothingOnDisk(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Do(t, "SET", "k", "v")
	s.Stop()
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case "redis.log", "redis.out":
		default:
			t.Errorf("unexpected file %s in the server's directory", e.Name())
		}
	}
	if log, err := os.ReadFile(s.logPath); err != nil || !strings.Contains(string(log), "Ready to accept connections") {
		t.Errorf("log file %s should hold the server's log (err %v):\n%s", s.logPath, err, log)
	}
}

// TestParallelServers checks that servers started together get their own
// ports and keyspaces.
func TestParallelServers(t *testing.T) {
	t.Parallel()
	a, b := Start(t), Start(t)
	if a.Addr == b.Addr {
		t.Fatalf("two servers on %s", a.Addr)
	}
	a.Do(t, "SET", "only-in-a", "1")
	if got := b.Do(t, "EXISTS", "only-in-a"); got != "0" {
		t.Errorf("key set on a is visible on b: EXISTS = %q", got)
	}
}

// TestFreePort checks that the port returned can be bound at once.
func TestFreePort(t *testing.T) {
	t.Parallel()
	// Another process may take a port between FreePort and the Listen below
	// (FreePort says so; packages test in parallel): one of a few ports must
	// bind, as Start's own retry relies on.
	var errs []error
	for range 5 {
		port := FreePort(t)
		if port <= 0 || port > 65535 {
			t.Fatalf("FreePort = %d", port)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return
		}
		errs = append(errs, fmt.Errorf("port %d: %w", port, err))
	}
	t.Fatalf("no port from FreePort could be bound: %v", errors.Join(errs...))
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does, without failing the test; everything
// else (TempDir, Cleanup, ...) goes to the real test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// expectFatal runs fn with a fatalRecorder and returns the Fatalf message,
// failing the test if fn did not call Fatalf.
func expectFatal(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	if rec.msg == "" {
		t.Fatal("expected a test failure, got none")
	}
	return rec.msg
}

// withBinary points Start at another executable for the rest of the test.
// Such tests must not be parallel: binaryName is package state.
func withBinary(t *testing.T, name string) {
	old := binaryName
	binaryName = name
	t.Cleanup(func() { binaryName = old })
}

// fakeBinary writes an executable shell script into a directory put first
// on PATH and returns its name.
func fakeBinary(t *testing.T, script string) string {
	t.Helper()
	dir := t.TempDir()
	name := "redistest-fake-server"
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return name
}

// TestMissingBinary checks that a machine without redis-server fails the
// test with instructions instead of skipping it.
func TestMissingBinary(t *testing.T) {
	withBinary(t, "redis-server-that-is-not-installed")
	msg := expectFatal(t, func(tb testing.TB) { Start(tb) })
	for _, want := range []string{"redis-server not found on PATH", "make test", "apt-get install redis-server"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message %q does not mention %q", msg, want)
		}
	}
}

// TestFailureShowsOutput checks that a server that exits at once fails the
// test with what it printed.
func TestFailureShowsOutput(t *testing.T) {
	withBinary(t, fakeBinary(t, "echo 'fake: refusing to start' >&2\nexit 1\n"))
	msg := expectFatal(t, func(tb testing.TB) { Start(tb) })
	for _, want := range []string{"exited before answering PING", "fake: refusing to start"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message does not mention %q:\n%s", want, msg)
		}
	}
}

// TestHungServerIsKilled checks that a server that never answers PING fails
// the test in bounded time and is not left running.
func TestHungServerIsKilled(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	withBinary(t, fakeBinary(t, fmt.Sprintf("echo $$ > %q\nexec sleep 60\n", pidFile)))
	old := startTimeout
	startTimeout = 300 * time.Millisecond
	t.Cleanup(func() { startTimeout = old })

	began := time.Now()
	msg := expectFatal(t, func(tb testing.TB) { Start(tb) })
	if !strings.Contains(msg, "did not answer PING within 300ms") {
		t.Errorf("failure message does not say the server did not answer:\n%s", msg)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("Start took %v to give up, want about 300ms", took)
	}
	pid, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("fake server did not run: %v", err)
	}
	if _, err := os.Stat("/proc/" + strings.TrimSpace(string(pid))); runtime.GOOS == "linux" && err == nil {
		t.Errorf("hung server (pid %s) is still running", strings.TrimSpace(string(pid)))
	}
}

// TestPortTakenIsRetried checks that Start tries a new port when the one it
// chose was taken before redis-server could bind it.
func TestPortTakenIsRetried(t *testing.T) {
	real, err := lookBinary()
	if err != nil {
		t.Fatalf("%s (%v)", notFoundMessage, err)
	}
	counter := filepath.Join(t.TempDir(), "runs")
	withBinary(t, fakeBinary(t, fmt.Sprintf(`
if [ ! -e %[1]q ]; then
	: > %[1]q
	echo "Could not create server TCP listening socket 127.0.0.1:1: bind: Address already in use" >&2
	exit 1
fi
exec %[2]q "$@"
`, counter, real)))
	s := Start(t)
	if got := s.Do(t, "PING"); got != "PONG" {
		t.Fatalf("PING = %q", got)
	}
	out, _ := os.ReadFile(s.outPath)
	if n := strings.Count(string(out), "--- redistest: starting"); n != 2 {
		t.Errorf("the server's output shows %d starts, want 2 (one refused, one retried):\n%s", n, out)
	}
}

// TestRestartFailureShowsLog checks that a Restart that cannot bind its
// port fails with redis-server's own explanation.
func TestRestartFailureShowsLog(t *testing.T) {
	t.Parallel()
	s := Start(t)
	s.Stop()
	l, err := net.Listen("tcp", s.Addr)
	if err != nil {
		t.Fatalf("taking the stopped server's port: %v", err)
	}
	defer l.Close()
	msg := expectFatal(t, func(tb testing.TB) { s.Restart(tb) })
	for _, want := range []string{"restart on the same port", "Address already in use", "log file"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message does not mention %q:\n%s", want, msg)
		}
	}
}

// TestServerDiesWithTestProcess checks that a test binary that exits without
// running its cleanups (as on a -timeout panic) does not leave its
// redis-server running.
func TestServerDiesWithTestProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux-only")
	}
	if _, err := lookBinary(); err != nil {
		t.Fatalf("%s (%v)", notFoundMessage, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAbandonServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REDISTEST_HELPER=abandon")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var addr string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			addr = a
		}
	}
	err = cmd.Wait()
	if addr == "" {
		t.Fatalf("helper printed no address (exit: %v); stderr:\n%s", err, stderr.String())
	}
	deadline := time.Now().Add(5 * time.Second)
	for ping(addr, time.Second) == nil {
		if time.Now().After(deadline) {
			// Do not leak it: shut it down, then fail.
			roundTrip(addr, []string{"SHUTDOWN", "NOSAVE"}, time.Second)
			t.Fatalf("redis-server on %s still answers after its test process exited", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHelperAbandonServer is not a test of its own: run by
// TestServerDiesWithTestProcess in a child process, it starts a server and
// exits without cleanup. Run directly, it does nothing.
func TestHelperAbandonServer(t *testing.T) {
	if os.Getenv("REDISTEST_HELPER") != "abandon" {
		return
	}
	s := Start(t)
	fmt.Printf("ADDR %s\n", s.Addr)
	// Non-zero: the testing package turns os.Exit(0) in a test into a
	// panic, which would run the cleanups this helper means to skip.
	os.Exit(3)
}

// assertDown fails the test if something still answers on addr.
func assertDown(t *testing.T, addr string) {
	t.Helper()
	if err := ping(addr, time.Second); err == nil {
		t.Fatalf("a server still answers PING on %s", addr)
	}
}
