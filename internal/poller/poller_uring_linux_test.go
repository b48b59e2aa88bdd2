//go:build linux

package poller

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol/internal/uring"
)

// runBackends runs the tests on epoll and then on io_uring, by setting
// SMOL_BACKEND for each pass, so that one `go test` checks both backends
// against the same contract tests. If SMOL_BACKEND is already set, only
// that backend runs (`SMOL_BACKEND=uring go test` runs the io_uring pass
// alone). Where the kernel refuses io_uring the second pass is skipped
// with the reason, printed.
func runBackends(m *testing.M) int {
	if os.Getenv(uring.EnvBackend) != "" {
		fmt.Printf("poller tests on %s=%s\n", uring.EnvBackend, os.Getenv(uring.EnvBackend))
		return m.Run()
	}
	defer os.Unsetenv(uring.EnvBackend)
	os.Setenv(uring.EnvBackend, "epoll")
	fmt.Println("poller tests on epoll")
	code := m.Run()
	os.Setenv(uring.EnvBackend, "uring")
	if err := uring.Available(); err != nil {
		fmt.Printf("io_uring unavailable here: %v; skipping the io_uring pass\n", err)
		return code
	}
	fmt.Println("poller tests on io_uring")
	if c := m.Run(); c != 0 {
		code = c
	}
	return code
}

// withBackend sets SMOL_BACKEND for the rest of the test.
func withBackend(t *testing.T, v string) {
	t.Setenv(uring.EnvBackend, v)
}

// TestBackendChoice checks that SMOL_BACKEND picks the backend, that auto
// follows autoURing, and that a bad value is an error.
func TestBackendChoice(t *testing.T) {
	withBackend(t, "uring")
	avail := uring.Available() // the kernel's answer
	for _, c := range []struct{ env, want string }{
		{"epoll", "epoll"},
		{"uring", "io_uring"},
		{"io_uring", "io_uring"},
		{"auto", map[bool]string{false: "epoll", true: "io_uring"}[autoURing]},
		{"", map[bool]string{false: "epoll", true: "io_uring"}[autoURing]},
	} {
		t.Run("SMOL_BACKEND="+c.env, func(t *testing.T) {
			withBackend(t, c.env)
			if c.want == "io_uring" && avail != nil && c.env != "uring" {
				t.Skipf("io_uring unavailable here: %v", avail)
			}
			p, err := New()
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if got := p.Backend(); got != c.want {
				t.Fatalf("Backend() = %q, want %q", got, c.want)
			}
		})
	}
	t.Run("bad value", func(t *testing.T) {
		withBackend(t, "iouring")
		if p, err := New(); err == nil {
			p.Close()
			t.Fatal("New succeeded with SMOL_BACKEND=iouring")
		}
	})
}

// TestForcedURingUnavailable simulates a kernel that refuses io_uring:
// forced, New fails with the reason; auto and epoll get epoll.
func TestForcedURingUnavailable(t *testing.T) {
	refusal := fmt.Errorf("uring: io_uring_setup: %w (simulated seccomp filter)", unix.EPERM)
	old := uringAvailable
	uringAvailable = func() error { return refusal }
	defer func() { uringAvailable = old }()

	withBackend(t, "uring")
	p, err := New()
	if err == nil {
		p.Close()
		t.Fatal("New succeeded with io_uring forced and unavailable")
	}
	if !errors.Is(err, unix.EPERM) {
		t.Fatalf("New: %v, want the refusal wrapped", err)
	}
	t.Log(err)
	for _, env := range []string{"auto", "epoll"} {
		withBackend(t, env)
		p, err := New()
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		if p.Backend() != "epoll" {
			t.Errorf("%s: Backend() = %q", env, p.Backend())
		}
		p.Close()
	}
}

// TestURingRearm ends a multishot poll from inside the kernel, the way a
// CQ overflow or the exit of the thread that armed it does, and checks
// that the backend re-arms it: later readiness is still reported.
func TestURingRearm(t *testing.T) {
	withBackend(t, "uring")
	if err := uring.Available(); err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	p := newTestPoller(t)
	a, b := socketPair(t)
	if err := p.Add(a, 7); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, 7) // the writable edge at arming
	// Cancel the poll behind the backend's back: its final CQE comes with
	// -ECANCELED and no F_MORE, as when the kernel cancels it.
	u := p.b.ur
	u.mu.Lock()
	sqe, err := u.ring.GetSQE()
	if err != nil {
		u.mu.Unlock()
		t.Fatal(err)
	}
	uring.PrepCancel(sqe, userData(a, u.regs.get(a).seq), false, userData(a, 0))
	_, err = u.ring.Submit()
	u.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// Let the cancellation's CQEs arrive and be consumed.
	for i := 0; i < 3; i++ {
		var buf [8]Event
		p.Wait(buf[:], 10*time.Millisecond)
	}
	write1(t, b)
	if ev := waitFor(t, p, 7); !ev.Readable {
		t.Fatalf("after re-arm: %+v", ev)
	}
}

// TestURingDeleteClosesSocket checks that Delete removes the poll at once:
// a socket closed after Delete reaches its peer as end of file while no
// Wait runs (the poll request would otherwise hold the file open).
func TestURingDeleteClosesSocket(t *testing.T) {
	withBackend(t, "uring")
	if err := uring.Available(); err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	p := newTestPoller(t)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	if err := p.Add(fds[0], 1); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(fds[0]); err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[0])
	// A blocking read on the peer returns end of file once the last
	// reference is gone; the 10 s receive timeout turns a hang into a
	// failure.
	tv := unix.Timeval{Sec: 10}
	unix.SetsockoptTimeval(fds[1], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	var buf [1]byte
	if n, err := unix.Read(fds[1], buf[:]); n != 0 || err != nil {
		t.Fatalf("peer read after Delete and close: %d, %v; want end of file", n, err)
	}
}

// TestURingConcurrentAddWhileParked adds fds from other goroutines while
// the waiter is parked with no timeout, and checks that their readiness
// reaches it: Add must not wait for the waiter, nor the waiter miss Adds.
func TestURingConcurrentAddWhileParked(t *testing.T) {
	p := newTestPoller(t)
	const n = 8
	var wg sync.WaitGroup
	peers := make([]int, n)
	for i := 0; i < n; i++ {
		a, b := socketPair(t)
		peers[i] = b
		wg.Add(1)
		go func(i, a int) {
			defer wg.Done()
			time.Sleep(time.Millisecond)
			if err := p.Add(a, uint64(100+i)); err != nil {
				t.Error(err)
			}
		}(i, a)
	}
	seen := map[uint64]bool{}
	deadline := time.Now().Add(10 * time.Second)
	var buf [16]Event
	for len(seen) < n && time.Now().Before(deadline) {
		k, err := p.Wait(buf[:], time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range buf[:k] {
			seen[e.Key] = true
		}
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("saw %d of %d fds", len(seen), n)
	}
}

// TestResetWakesBlockedWriter: a writer whose send buffer is full learns of
// the peer's reset (RST, from a close with SO_LINGER 0) through an event.
// On io_uring this also checks Delete under a race seen on 6.18: the
// removal of a poll that the kernel is completing at that moment fails
// with EALREADY, and unless it is retried the poll keeps the closed
// socket open, so no RST is sent and the writer waits for ever.
func TestResetWakesBlockedWriter(t *testing.T) {
	for round := 0; round < 20; round++ {
		p := newTestPoller(t)
		c, s := tcpPairNoCleanup(t)
		if err := p.Add(c, 1); err != nil {
			t.Fatal(err)
		}
		if err := p.Add(s, 2); err != nil {
			t.Fatal(err)
		}
		collect(t, p)
		buf := make([]byte, 1<<20)
		for {
			if _, err := unix.Write(c, buf); err == unix.EAGAIN {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		collect(t, p)
		if err := p.Delete(s); err != nil {
			t.Fatal(err)
		}
		unix.SetsockoptLinger(s, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		unix.Close(s) // RST, once the poll's reference is gone
		ev := waitFor(t, p, 1)
		if !ev.Writable && !ev.Err {
			t.Fatalf("round %d: event %+v, want writable or error", round, ev)
		}
		p.Delete(c)
		unix.Close(c)
	}
}

// tcpPairNoCleanup is tcpPair for a test that closes both ends itself.
func tcpPairNoCleanup(t *testing.T) (int, int) {
	t.Helper()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(err)
	defer unix.Close(ln)
	must(unix.Bind(ln, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	must(unix.Listen(ln, 1))
	sa, err := unix.Getsockname(ln)
	must(err)
	c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	must(err)
	must(unix.Connect(c, sa))
	s, _, err := unix.Accept4(ln, unix.SOCK_CLOEXEC)
	must(err)
	must(unix.SetNonblock(c, true))
	must(unix.SetNonblock(s, true))
	return c, s
}
