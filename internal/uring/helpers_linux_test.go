//go:build linux

package uring

import (
	"net"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain starts the Go runtime's own poller (its epoll fd and wake-up
// fd) before any test counts descriptors, so that the runtime's lazily
// created fds are not mistaken for leaks.
func TestMain(m *testing.M) {
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	// The kernel's answer, cached as Available caches it.
	kernelOnce.Do(func() { kernelErr = checkKernel(disabledPath, setup) })
	os.Exit(m.Run())
}

// requireURing skips the test where this kernel or sandbox refuses
// io_uring (the tests of that refusal itself, TestAvailable, still run).
func requireURing(tb testing.TB) {
	tb.Helper()
	if kernelErr != nil {
		tb.Skipf("io_uring unavailable here: %v", kernelErr)
	}
}

// openFds lists the descriptors open in this process.
func openFds(tb testing.TB) []string {
	tb.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Skip(err)
	}
	var names []string
	for _, e := range ents {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		names = append(names, e.Name()+"->"+target)
	}
	slices.Sort(names)
	return names
}

// checkFds registers a cleanup that fails the test if it leaves a
// descriptor open that was not open when checkFds was called. Cleanups run
// last-in first-out, so call it before creating anything the test closes
// in its own cleanups.
func checkFds(tb testing.TB) {
	tb.Helper()
	before := openFds(tb)
	tb.Cleanup(func() {
		// The ReadDir of the listing itself opens one fd, which shows in
		// both lists at the same number; anything else new is a leak.
		after := openFds(tb)
		var leaked []string
		for _, f := range after {
			if !slices.Contains(before, f) {
				leaked = append(leaked, f)
			}
		}
		if len(leaked) > 0 {
			tb.Errorf("leaked fds: %v", leaked)
		}
	})
}

// newRing creates a ring closed at the end of the test.
func newRing(tb testing.TB, o Options) *Ring {
	tb.Helper()
	requireURing(tb)
	r, err := New(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	return r
}

// must fails the test on err.
func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

// sqe returns an SQE or fails the test.
func sqe(tb testing.TB, r *Ring) *SQE {
	tb.Helper()
	s, err := r.GetSQE()
	must(tb, err)
	return s
}

// listener returns a non-blocking loopback TCP listener and its address.
func listener(tb testing.TB, backlog int) (int, unix.Sockaddr) {
	tb.Helper()
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	must(tb, err)
	tb.Cleanup(func() { unix.Close(ln) })
	must(tb, unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	must(tb, unix.Listen(ln, backlog))
	sa, err := unix.Getsockname(ln)
	must(tb, err)
	return ln, sa
}

// tcpPair returns a connected pair of non-blocking loopback TCP sockets
// with TCP_NODELAY, closed at the end of the test.
func tcpPair(tb testing.TB) (client, server int) {
	tb.Helper()
	ln, sa := listener(tb, 1)
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(tb, err)
	must(tb, unix.Connect(c, sa))
	var s int
	for deadline := time.Now().Add(5 * time.Second); ; {
		s, _, err = unix.Accept4(ln, unix.SOCK_CLOEXEC)
		if err != unix.EAGAIN || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	must(tb, err)
	for _, fd := range []int{c, s} {
		must(tb, unix.SetNonblock(fd, true))
		must(tb, unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1))
	}
	tb.Cleanup(func() {
		unix.Close(c)
		unix.Close(s)
	})
	return c, s
}

// collect waits for completions until want have been reaped (the wake-up
// poll's excluded) or timeout passes, and returns them.
func collect(tb testing.TB, r *Ring, want int, timeout time.Duration) []CQE {
	tb.Helper()
	var out []CQE
	buf := make([]CQE, 64)
	deadline := time.Now().Add(timeout)
	for len(out) < want {
		left := time.Until(deadline)
		if left <= 0 {
			tb.Fatalf("got %d completions, want %d: %+v", len(out), want, out)
		}
		if _, err := r.SubmitAndWait(left); err != nil && !isTransient(err) {
			tb.Fatal(err)
		}
		n := r.Reap(buf)
		out = append(out, buf[:n]...)
	}
	return out
}

// readAll reads from the non-blocking fd until it has n bytes or timeout.
func readAll(tb testing.TB, fd, n int, timeout time.Duration) []byte {
	tb.Helper()
	out := make([]byte, 0, n)
	buf := make([]byte, n)
	deadline := time.Now().Add(timeout)
	for len(out) < n {
		m, err := unix.Read(fd, buf[:n-len(out)])
		switch {
		case err == unix.EAGAIN:
			if time.Now().After(deadline) {
				tb.Fatalf("read %d of %d bytes", len(out), n)
			}
			time.Sleep(100 * time.Microsecond)
		case err != nil:
			tb.Fatal(err)
		case m == 0:
			tb.Fatalf("EOF after %d of %d bytes", len(out), n)
		default:
			out = append(out, buf[:m]...)
		}
	}
	return out
}
