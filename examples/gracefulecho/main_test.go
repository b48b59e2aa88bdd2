package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serverEnv makes the test binary run main, as the server under test.
const serverEnv = "GRACEFULECHO_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

// startServer runs the command in a child process and returns it, its address
// and its output, line by line.
func startServer(t *testing.T, drain time.Duration) (*exec.Cmd, string, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-addr", "127.0.0.1:0", "-drain", drain.String())
	cmd.Env = append(os.Environ(), serverEnv+"=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	first := expect(t, lines, "listening on ")
	return cmd, strings.TrimPrefix(first, "listening on "), lines
}

// expect returns the next line of output, which must start with prefix.
func expect(t *testing.T, lines <-chan string, prefix string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok || !strings.HasPrefix(l, prefix) {
			t.Fatalf("server said %q (open %v), want %q...", l, ok, prefix)
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("server did not say %q", prefix)
	}
	return ""
}

func dial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c, bufio.NewReader(c)
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) {
	t.Helper()
	if _, err := io.WriteString(c, line); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil || got != line {
		t.Fatalf("echo %q, %v; want %q", got, err, line)
	}
}

// waitExit waits for the server to exit and returns its status and how
// long that took.
func waitExit(t *testing.T, cmd *exec.Cmd) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, time.Since(start)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not exit")
	}
	return 0, 0
}

// SIGTERM while clients are mid-request: the request in flight completes,
// idle connections are closed, new connections are refused, and the
// process exits 0 well within the deadline.
func TestGracefulShutdown(t *testing.T) {
	cmd, addr, lines := startServer(t, 10*time.Second)
	busy, busyR := dial(t, addr)
	roundTrip(t, busy, busyR, "hello\n")
	idle, idleR := dial(t, addr)
	roundTrip(t, idle, idleR, "ping\n")
	// Half a request on the busy connection.
	if _, err := io.WriteString(busy, "wor"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the server read it

	start := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	expect(t, lines, "shutting down: terminated, 2 connections open")

	// New connections are refused.
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Fatal("a new connection was accepted after SIGTERM")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after SIGTERM: %v", err)
	}
	// The idle connection is closed at once.
	if b, err := idleR.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: read %q, %v; want EOF", b, err)
	}
	// The request in flight completes, then its connection closes.
	if _, err := io.WriteString(busy, "ld\n"); err != nil {
		t.Fatal(err)
	}
	if got, err := busyR.ReadString('\n'); err != nil || got != "world\n" {
		t.Fatalf("in-flight request: %q, %v", got, err)
	}
	if b, err := busyR.ReadByte(); err != io.EOF {
		t.Fatalf("busy connection after its request: read %q, %v; want EOF", b, err)
	}
	expect(t, lines, "drained")
	code, _ := waitExit(t, cmd)
	if took := time.Since(start); code != 0 || took > 5*time.Second {
		t.Fatalf("exit status %d after %v", code, took)
	}
}

// A client that never finishes its request is closed at the deadline, and
// the process exits 0 then.
func TestDeadline(t *testing.T) {
	const drain = 300 * time.Millisecond
	cmd, addr, lines := startServer(t, drain)
	stuck, stuckR := dial(t, addr)
	roundTrip(t, stuck, stuckR, "accepted?\n") // the server holds it now
	if _, err := io.WriteString(stuck, "never ends"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the server read it
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	expect(t, lines, "shutting down: interrupt, 1 connections open")
	expect(t, lines, "closed 1 connections at the deadline")
	code, _ := waitExit(t, cmd)
	took := time.Since(start)
	if code != 0 || took < drain || took > drain+5*time.Second {
		t.Fatalf("exit status %d after %v, deadline %v", code, took, drain)
	}
	if _, err := stuckR.ReadByte(); err == nil {
		t.Fatal("the stuck connection is still open")
	}
}
