//go:build linux

package poller

import (
	"encoding/binary"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smolgo/smol/internal/uring"
)

// newPipePoller returns a poller whose wake-up fd is the pipe fallback.
func newPipePoller(t testing.TB) *Poller {
	t.Helper()
	p := &Poller{}
	p.b.forcePipe = true
	if err := p.b.init(); err != nil {
		t.Fatal(err)
	}
	if p.b.wakeR == p.b.wakeW {
		t.Fatal("forcePipe did not give a pipe")
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// pendingWakes reads the wake-up fd directly and returns how many wake-up
// writes it held: the eventfd counter, or the number of bytes in the pipe.
// It bypasses Wait, so the notify flag stays set.
func pendingWakes(t *testing.T, p *Poller) uint64 {
	t.Helper()
	var buf [64]byte
	if p.b.wakeR == p.b.wakeW {
		n, err := unix.Read(p.b.wakeR, buf[:8])
		if err == unix.EAGAIN {
			return 0
		}
		if err != nil || n != 8 {
			t.Fatalf("eventfd read: %d, %v", n, err)
		}
		return binary.NativeEndian.Uint64(buf[:8])
	}
	total := uint64(0)
	for {
		n, err := unix.Read(p.b.wakeR, buf[:])
		if err == unix.EAGAIN {
			return total
		}
		if err != nil {
			t.Fatal(err)
		}
		total += uint64(n)
	}
}

// TestNotifyDedupOneWrite counts the writes directly: 8 goroutines call
// Notify 1000 times each with no Wait in between, and the wake-up fd holds
// exactly one write.
func TestNotifyDedupOneWrite(t *testing.T) {
	for _, pipe := range []bool{false, true} {
		name := "eventfd"
		if pipe {
			name = "pipe"
		}
		t.Run(name, func(t *testing.T) {
			var p *Poller
			if pipe {
				p = newPipePoller(t)
			} else {
				p = newTestPoller(t)
			}
			var wakes uint64
			if p.b.ur != nil {
				wakes = p.b.ur.ring.Stats.Wakes
			}
			var wg sync.WaitGroup
			for g := 0; g < 8; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 1000; i++ {
						p.Notify()
					}
				}()
			}
			wg.Wait()
			if p.b.ur != nil {
				// io_uring: count the wake-up CQEs that the next Wait
				// consumes.
				var buf [4]Event
				p.Wait(buf[:], 0)
				if n := p.b.ur.ring.Stats.Wakes - wakes; n != 1 {
					t.Fatalf("8000 Notify calls made %d wake-ups, want 1", n)
				}
				return
			}
			if n := pendingWakes(t, p); n != 1 {
				t.Fatalf("8000 Notify calls made %d writes, want 1", n)
			}
		})
	}
}

// TestPipeFallback runs the wake-up round trip on the pipe fallback.
func TestPipeFallback(t *testing.T) {
	p := newPipePoller(t)
	var buf [8]Event
	for i := 0; i < 3; i++ {
		for j := 0; j < 10; j++ {
			if err := p.Notify(); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := p.Wait(buf[:], -1); n != 0 || err != nil {
			t.Fatalf("Wait = %d, %v", n, err)
		}
		if n, err := p.Wait(buf[:], 0); n != 0 || err != nil {
			t.Fatalf("second Wait = %d, %v", n, err)
		}
	}
	// Close wakes a blocked Wait on the pipe too.
	done := make(chan error, 1)
	go func() {
		_, err := p.Wait(buf[:], -1)
		done <- err
	}()
	time.Sleep(time.Millisecond)
	p.Close()
	if err := <-done; err != ErrClosed {
		t.Fatalf("Wait after Close: %v", err)
	}
}

// newEpollPoller returns an epoll poller whatever SMOL_BACKEND says.
func newEpollPoller(t testing.TB) *Poller {
	t.Helper()
	p := &Poller{}
	p.b.forceEpoll = true
	if err := p.b.init(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestMillisecondFallbackNeverEarly forces the epoll_wait path, where the
// timeout is rounded up to whole milliseconds.
func TestMillisecondFallbackNeverEarly(t *testing.T) {
	p := newEpollPoller(t)
	p.b.pwait2 = 2
	for _, d := range []time.Duration{time.Nanosecond, 1500 * time.Microsecond, 2*time.Millisecond + 1} {
		for counted := 0; counted < 3; {
			if checkNotEarly(t, p, d) {
				counted++
			}
		}
	}
	if p.b.pwait2 != 2 {
		t.Fatal("fallback flag was reset")
	}
}

// TestPwait2Detected checks that this kernel (5.11+) gets the nanosecond
// path; on an older kernel it logs instead of failing.
func TestPwait2Detected(t *testing.T) {
	p := newEpollPoller(t)
	var buf [1]Event
	p.Wait(buf[:], time.Microsecond)
	if p.b.pwait2 != 1 {
		t.Logf("epoll_pwait2 unavailable here (state %d); using millisecond timeouts", p.b.pwait2)
	}
}

// TestCloseReleasesFds checks that Close closes the epoll fd and the
// wake-up fd(s), or the ring and its notifier ring, and nothing else.
func TestCloseReleasesFds(t *testing.T) {
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip(err)
		}
		return len(ents)
	}
	before := count()
	for _, pipe := range []bool{false, true} {
		p := &Poller{}
		p.b.forcePipe = pipe
		p.b.forceEpoll = true
		if err := p.b.init(); err != nil {
			t.Fatal(err)
		}
		want := 2
		if pipe {
			want = 3
		}
		if got := count() - before; got != want {
			t.Errorf("pipe=%v: New opened %d fds, want %d", pipe, got, want)
		}
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		if got := count(); got != before {
			t.Errorf("pipe=%v: %d fds after Close, want %d", pipe, got, before)
		}
	}
}

// TestRegularFileRefused documents that epoll refuses regular files.
func TestRegularFileRefused(t *testing.T) {
	p := newTestPoller(t)
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := p.Add(int(f.Fd()), 1); err == nil {
		t.Fatal("Add of a regular file succeeded")
	}
}

// TestCloseReleasesRingFds is TestCloseReleasesFds for io_uring: the ring
// and the notifier ring (MSG_RING) or the eventfd.
func TestCloseReleasesRingFds(t *testing.T) {
	withBackend(t, "uring")
	if err := uring.Available(); err != nil {
		t.Skipf("io_uring unavailable here: %v", err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip(err)
	}
	before := len(ents)
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	ents, _ = os.ReadDir("/proc/self/fd")
	if got := len(ents) - before; got != 2 {
		t.Errorf("New opened %d fds, want 2", got)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	ents, _ = os.ReadDir("/proc/self/fd")
	if len(ents) != before {
		t.Errorf("%d fds after Close, want %d", len(ents), before)
	}
}

// TestKickLeavesNoPastDeadline: a Notify that kicks a Wait parked in the Go
// runtime's poller sets a read deadline in the past on epfd's file. Later
// Waits must block again: a few may return early, which the contract
// allows, but never a loop of them. Every round ends with a real kick; odd
// rounds also begin with a stale one, forced by calling wake with parked
// set by hand while no Wait runs.
func TestKickLeavesNoPastDeadline(t *testing.T) {
	p := newEpollPoller(t)
	if p.b.rc == nil {
		t.Fatal("epfd is not pollable by the Go runtime; the kick is not exercised")
	}
	events := make([]Event, 8)
	for round := range 50 {
		if round%2 == 1 {
			p.b.parked.Store(true)
			if err := p.b.wake(); err != nil {
				t.Fatal(err)
			}
			p.b.parked.Store(false)
		}
		// Waits with no timeout, counted, until stop.
		var stop atomic.Bool
		returns := make(chan int)
		go func() {
			n := 0
			for !stop.Load() {
				if _, err := p.Wait(events, -1); err != nil {
					t.Error(err)
					break
				}
				n++
			}
			returns <- n
		}()
		// In 20 ms they return at most a few times (the stale kick, the
		// last round's kick if it landed late, an EINTR) before the
		// Notify that ends the loop; spinning on a past deadline would
		// return thousands of times.
		time.Sleep(20 * time.Millisecond)
		stop.Store(true)
		if err := p.Notify(); err != nil {
			t.Fatal(err)
		}
		if n := <-returns; n > 4 {
			t.Fatalf("round %d: a Wait with no timeout returned %d times in 20 ms: a past deadline was left behind", round, n)
		}
	}
}
