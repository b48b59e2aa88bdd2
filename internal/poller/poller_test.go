//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package poller

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// TestMain runs every test once per backend this system offers (epoll and
// io_uring on Linux, see runBackends), then checks for leaked goroutines.
func TestMain(m *testing.M) { goleak.VerifyTestMain(backendPasses{m}) }

// backendPasses is a goleak.TestingM whose Run runs the tests on each
// backend.
type backendPasses struct{ m *testing.M }

func (b backendPasses) Run() int { return runBackends(b.m) }

// newTestPoller returns a poller that is closed when the test ends.
func newTestPoller(t testing.TB) *Poller {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// socketPair returns two connected non-blocking stream sockets that are
// closed when the test ends.
func socketPair(t testing.TB) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
		unix.CloseOnExec(fd)
	}
	t.Cleanup(func() {
		unix.Close(fds[0])
		unix.Close(fds[1])
	})
	return fds[0], fds[1]
}

// collect runs Wait with timeout 0 until it returns no events and returns
// every event, merged per key.
func collect(t testing.TB, p *Poller) map[uint64]Event {
	t.Helper()
	got := map[uint64]Event{}
	var buf [64]Event
	for {
		n, err := p.Wait(buf[:], 0)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return got
		}
		for _, e := range buf[:n] {
			g := got[e.Key]
			g.Key = e.Key
			g.Readable = g.Readable || e.Readable
			g.Writable = g.Writable || e.Writable
			g.Hangup = g.Hangup || e.Hangup
			g.Err = g.Err || e.Err
			got[e.Key] = g
		}
	}
}

// waitFor blocks in Wait (with a 10 s safety limit so a bug fails rather
// than hangs) until an event for key arrives, and returns it merged with any
// other event for key in the same batches.
func waitFor(t testing.TB, p *Poller, key uint64) Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var buf [64]Event
	for time.Now().Before(deadline) {
		n, err := p.Wait(buf[:], time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var got Event
		found := false
		for _, e := range buf[:n] {
			if e.Key == key {
				found = true
				got.Key = key
				got.Readable = got.Readable || e.Readable
				got.Writable = got.Writable || e.Writable
				got.Hangup = got.Hangup || e.Hangup
				got.Err = got.Err || e.Err
			}
		}
		if found {
			return got
		}
	}
	t.Fatalf("no event for key %#x within 10s", key)
	return Event{}
}

func write1(t testing.TB, fd int) {
	t.Helper()
	if _, err := unix.Write(fd, []byte{'x'}); err != nil {
		t.Fatal(err)
	}
}

// drain reads fd until EAGAIN and returns the number of bytes read.
func drain(t testing.TB, fd int) int {
	t.Helper()
	var buf [4096]byte
	total := 0
	for {
		n, err := unix.Read(fd, buf[:])
		if err == unix.EAGAIN {
			return total
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func TestReadWriteReadiness(t *testing.T) {
	p := newTestPoller(t)
	a, b := socketPair(t)
	const key = 0x0123_4567_89ab_cdef
	if err := p.Add(a, key); err != nil {
		t.Fatal(err)
	}

	// A fresh socket has send space: the first Wait reports it writable,
	// and not readable.
	e := waitFor(t, p, key)
	if !e.Writable || e.Readable {
		t.Fatalf("fresh socket: got %+v, want writable only", e)
	}

	// Data from the peer makes it readable.
	write1(t, b)
	e = waitFor(t, p, key)
	if !e.Readable || e.Hangup || e.Err {
		t.Fatalf("after peer write: got %+v, want readable", e)
	}
	if n := drain(t, a); n != 1 {
		t.Fatalf("read %d bytes, want 1", n)
	}
}

func TestEdgeTriggeredOneEventPerEdge(t *testing.T) {
	p := newTestPoller(t)
	a, b := socketPair(t)
	const key = 7
	if err := p.Add(a, key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, key) // the initial writable edge
	collect(t, p)

	// One edge: data arrives and is not read.
	write1(t, b)
	if e := waitFor(t, p, key); !e.Readable {
		t.Fatalf("got %+v, want readable", e)
	}
	// The edge was reported once: without a read and without new data,
	// further Waits report nothing for key, although it is still readable.
	for i := 0; i < 3; i++ {
		if got := collect(t, p); got[key].Readable {
			t.Fatalf("round %d: edge reported again: %+v", i, got[key])
		}
	}
	// New data is a new edge, even though the old byte is still unread.
	write1(t, b)
	if e := waitFor(t, p, key); !e.Readable {
		t.Fatalf("got %+v, want readable", e)
	}
	if n := drain(t, a); n != 2 {
		t.Fatalf("read %d bytes, want 2", n)
	}
}

func TestNotifyBeforeWait(t *testing.T) {
	p := newTestPoller(t)
	if err := p.Notify(); err != nil {
		t.Fatal(err)
	}
	// A pending Notify makes even an unbounded Wait return at once, with no
	// events: the wake-up is consumed internally.
	var buf [8]Event
	n, err := p.Wait(buf[:], -1)
	if n != 0 || err != nil {
		t.Fatalf("Wait = %d, %v; want 0, nil", n, err)
	}
	// It was consumed: nothing is pending now.
	if n, err := p.Wait(buf[:], 0); n != 0 || err != nil {
		t.Fatalf("second Wait = %d, %v; want 0, nil", n, err)
	}
}

func TestNotifyWakesBlockedWait(t *testing.T) {
	p := newTestPoller(t)
	for i := 0; i < 5; i++ {
		started := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			var buf [8]Event
			close(started)
			n, err := p.Wait(buf[:], -1)
			if err == nil && n != 0 {
				err = errors.New("Wait returned events")
			}
			done <- err
		}()
		<-started
		// Give the goroutine a moment to block in the kernel. Correctness
		// does not depend on it: a Notify that comes first is kept for the
		// Wait.
		time.Sleep(time.Millisecond)
		if err := p.Notify(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Notify did not wake Wait within 10s")
		}
	}
}

func TestManyNotifiesOneWake(t *testing.T) {
	p := newTestPoller(t)
	// Many concurrent Notify calls between two Waits.
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				if err := p.Notify(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var buf [8]Event
	if n, err := p.Wait(buf[:], -1); n != 0 || err != nil {
		t.Fatalf("Wait = %d, %v; want 0, nil", n, err)
	}
	// One Wait consumed all of them.
	if n, err := p.Wait(buf[:], 0); n != 0 || err != nil {
		t.Fatalf("second Wait = %d, %v; want 0, nil", n, err)
	}
	// And the flag was reset: the next Notify wakes again.
	if err := p.Notify(); err != nil {
		t.Fatal(err)
	}
	if n, err := p.Wait(buf[:], -1); n != 0 || err != nil {
		t.Fatalf("third Wait = %d, %v; want 0, nil", n, err)
	}
}

// TestNotifyRace has two goroutines publish state and Notify while one
// goroutine waits with no time limit, checking that no wake-up is lost: the
// waiter looks at the state, and if nothing new is there it waits; a post
// that lands between the look and the wait must still end the wait. A lost
// wake-up would leave the waiter blocked with posts pending; the 10 s limit
// turns that hang into a failure.
func TestNotifyRace(t *testing.T) {
	p := newTestPoller(t)
	var mu sync.Mutex
	posted := 0 // state published before Notify, read after Wait
	const perNotifier = 2000
	var wg sync.WaitGroup
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perNotifier; i++ {
				mu.Lock()
				posted++
				mu.Unlock()
				if err := p.Notify(); err != nil {
					t.Error(err)
					return
				}
				if i%4 == 0 {
					runtime.Gosched() // vary the interleaving, also with GOMAXPROCS=1
				}
			}
		}()
	}
	var buf [4]Event
	for seen := 0; seen < 2*perNotifier; {
		mu.Lock()
		cur := posted
		mu.Unlock()
		if cur > seen {
			seen = cur
			continue
		}
		start := time.Now()
		if _, err := p.Wait(buf[:], 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) >= 10*time.Second {
			mu.Lock()
			cur = posted
			mu.Unlock()
			t.Fatalf("lost wake-up: waited 10s with %d posts pending", cur-seen)
		}
	}
	wg.Wait()
}

// checkNotEarly runs Wait(d) with nothing to report and fails if it
// returned before d had passed, unless the system call was interrupted
// (EINTR, which the contract reports as an early (0, nil): the Go runtime's
// preemption signal occasionally lands just as the thread enters the
// kernel). It reports whether the run counted.
func checkNotEarly(t *testing.T, p *Poller, d time.Duration) bool {
	t.Helper()
	var buf [8]Event
	intr := p.b.interrupted
	start := time.Now()
	n, err := p.Wait(buf[:], d)
	el := time.Since(start)
	if err != nil || n != 0 {
		t.Fatalf("Wait(%v) = %d, %v", d, n, err)
	}
	if p.b.interrupted != intr {
		return false
	}
	if el < d {
		t.Fatalf("Wait(%v) returned after %v without EINTR: early", d, el)
	}
	return true
}

func TestTimeoutNeverEarly(t *testing.T) {
	p := newTestPoller(t)
	for _, d := range []time.Duration{time.Nanosecond, 100 * time.Microsecond, 1500 * time.Microsecond, 3 * time.Millisecond} {
		for counted := 0; counted < 3; {
			if checkNotEarly(t, p, d) {
				counted++
			}
		}
	}
}

func TestDeleteStopsEvents(t *testing.T) {
	p := newTestPoller(t)
	a, b := socketPair(t)
	const key = 42
	if err := p.Add(a, key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, key) // the initial writable edge, maybe not consumed by kqueue's merge
	if err := p.Delete(a); err != nil {
		t.Fatal(err)
	}
	write1(t, b)
	// Give the kernel a moment to deliver the (suppressed) event, then
	// check nothing came.
	var buf [8]Event
	if n, err := p.Wait(buf[:], 20*time.Millisecond); n != 0 || err != nil {
		t.Fatalf("after Delete: Wait = %d (%+v), %v; want 0, nil", n, buf[:n], err)
	}
	// Deleting again, or deleting an fd never added, is ENOENT.
	if err := p.Delete(a); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("second Delete: %v, want ENOENT", err)
	}
	// After Delete the fd can be added again, with a new key.
	if err := p.Add(a, key+1); err != nil {
		t.Fatal(err)
	}
	if e := waitFor(t, p, key+1); !e.Readable {
		t.Fatalf("re-added: got %+v, want readable", e)
	}
}

func TestAddTwiceIsEEXIST(t *testing.T) {
	p := newTestPoller(t)
	a, _ := socketPair(t)
	if err := p.Add(a, 1); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(a, 2); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("second Add: %v, want EEXIST", err)
	}
	if err := p.Add(-1, 3); err == nil {
		t.Fatal("Add(-1) succeeded")
	}
}

func TestKeyRoundTrip(t *testing.T) {
	p := newTestPoller(t)
	keys := []uint64{0xdeadbeefcafef00d, 0, 1, 1 << 63, 0xffffffff, 0xffffffff00000000, ReservedKey - 1}
	fds := map[uint64]int{}
	for _, k := range keys {
		a, b := socketPair(t)
		if err := p.Add(a, k); err != nil {
			t.Fatal(err)
		}
		write1(t, b)
		fds[k] = a
	}
	got := map[uint64]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < len(keys) && time.Now().Before(deadline) {
		var buf [64]Event
		n, err := p.Wait(buf[:], time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range buf[:n] {
			if _, ok := fds[e.Key]; !ok {
				t.Fatalf("event with unknown key %#x", e.Key)
			}
			if e.Readable {
				got[e.Key] = true
			}
		}
	}
	for _, k := range keys {
		if !got[k] {
			t.Errorf("no readable event for key %#x", k)
		}
	}
	a, _ := socketPair(t)
	if err := p.Add(a, ReservedKey); err != ErrReservedKey {
		t.Fatalf("Add(ReservedKey) = %v, want ErrReservedKey", err)
	}
}

func TestHangup(t *testing.T) {
	p := newTestPoller(t)
	a, b := socketPair(t)
	const key = 9
	if err := p.Add(a, key); err != nil {
		t.Fatal(err)
	}
	waitFor(t, p, key)
	unix.Shutdown(b, unix.SHUT_WR)
	e := waitFor(t, p, key)
	if !e.Readable || !e.Hangup {
		t.Fatalf("after peer shutdown: got %+v, want readable and hangup", e)
	}
	if n := drain(t, a); n != 0 {
		t.Fatalf("read %d bytes, want EOF", n)
	}
}

func TestOneShot(t *testing.T) {
	p := newTestPoller(t)
	a, b := socketPair(t)
	const key = 0xabc
	// Armed for read only: a fresh socket is writable, but that is not
	// reported.
	if err := p.AddOneShot(a, key, true, false); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, p); len(got) != 0 {
		t.Fatalf("read-armed fresh socket: got %+v, want nothing", got)
	}
	write1(t, b)
	if e := waitFor(t, p, key); !e.Readable {
		t.Fatalf("got %+v, want readable", e)
	}
	// Disarmed: new data brings no event.
	write1(t, b)
	if got := collect(t, p); len(got) != 0 {
		t.Fatalf("disarmed: got %+v, want nothing", got)
	}
	// Re-arming while data is buffered reports at once (level-triggered
	// while armed), with the new key.
	if err := p.Modify(a, key+1, true, false); err != nil {
		t.Fatal(err)
	}
	if e := waitFor(t, p, key+1); !e.Readable {
		t.Fatalf("after Modify: got %+v, want readable", e)
	}
	drain(t, a)
	// Arm for write: reported at once.
	if err := p.Modify(a, key+2, false, true); err != nil {
		t.Fatal(err)
	}
	if e := waitFor(t, p, key+2); !e.Writable {
		t.Fatalf("write-armed: got %+v, want writable", e)
	}
	if err := p.Delete(a); err != nil {
		t.Fatal(err)
	}
	if err := p.Modify(a, key, true, true); !errors.Is(err, unix.ENOENT) {
		t.Fatalf("Modify after Delete: %v, want ENOENT", err)
	}
}

func TestSmallEventsSlice(t *testing.T) {
	p := newTestPoller(t)
	const fds = 40
	for i := 0; i < fds; i++ {
		a, b := socketPair(t)
		if err := p.Add(a, uint64(i)); err != nil {
			t.Fatal(err)
		}
		write1(t, b)
	}
	// Three events at a time; every fd is reported in the end.
	seen := map[uint64]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < fds && time.Now().Before(deadline) {
		var buf [3]Event
		n, err := p.Wait(buf[:], time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if n > len(buf) {
			t.Fatalf("n = %d > len", n)
		}
		for _, e := range buf[:n] {
			if e.Readable {
				seen[e.Key] = true
			}
		}
	}
	if len(seen) != fds {
		t.Fatalf("saw %d of %d fds", len(seen), fds)
	}
	if _, err := p.Wait(nil, 0); err == nil {
		t.Fatal("Wait with an empty slice succeeded")
	}
}

func TestClose(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	a, _ := socketPair(t)
	if err := p.Add(a, 1); err != nil {
		t.Fatal(err)
	}
	// Close wakes a Wait blocked with no timeout, which returns ErrClosed.
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		var buf [8]Event
		close(started)
		for {
			_, err := p.Wait(buf[:], -1)
			if err != nil {
				done <- err
				return
			}
		}
	}()
	<-started
	time.Sleep(time.Millisecond)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != ErrClosed {
			t.Fatalf("Wait after Close: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not wake Wait")
	}
	// Everything is ErrClosed afterwards.
	var buf [1]Event
	if _, err := p.Wait(buf[:], 0); err != ErrClosed {
		t.Errorf("Wait: %v", err)
	}
	if err := p.Add(a, 2); err != ErrClosed {
		t.Errorf("Add: %v", err)
	}
	if err := p.AddOneShot(a, 2, true, true); err != ErrClosed {
		t.Errorf("AddOneShot: %v", err)
	}
	if err := p.Modify(a, 2, true, true); err != ErrClosed {
		t.Errorf("Modify: %v", err)
	}
	if err := p.Delete(a); err != ErrClosed {
		t.Errorf("Delete: %v", err)
	}
	if err := p.Notify(); err != ErrClosed {
		t.Errorf("Notify: %v", err)
	}
	if err := p.Close(); err != ErrClosed {
		t.Errorf("second Close: %v", err)
	}
	// The caller's fd is still open.
	if _, err := unix.Write(a, []byte{1}); err != nil {
		t.Errorf("caller's fd was closed: %v", err)
	}
}

// TestCloseConcurrent races Close against every other method; run it with
// -race. Nothing may panic, and every call returns nil or ErrClosed (or a
// kernel error for Add/Delete of a shared fd, which is the test's doing).
func TestCloseConcurrent(t *testing.T) {
	for round := 0; round < 20; round++ {
		p, err := New()
		if err != nil {
			t.Fatal(err)
		}
		a, _ := socketPair(t)
		var wg sync.WaitGroup
		start := make(chan struct{})
		run := func(f func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				for i := 0; i < 50; i++ {
					if err := f(); err == ErrClosed {
						return
					}
				}
			}()
		}
		run(p.Notify)
		run(p.Notify)
		run(func() error {
			if err := p.Add(a, 5); err != nil {
				return err
			}
			return p.Delete(a)
		})
		run(func() error {
			var buf [4]Event
			_, err := p.Wait(buf[:], time.Millisecond)
			return err
		})
		close(start)
		if err := p.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
}

// TestConcurrentRegistration adds and deletes fds from several goroutines
// while another goroutine waits; -race checks the poller's own state.
func TestConcurrentRegistration(t *testing.T) {
	p := newTestPoller(t)
	stop := make(chan struct{})
	waiterDone := make(chan struct{})
	go func() {
		defer close(waiterDone)
		var buf [16]Event
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := p.Wait(buf[:], time.Millisecond); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		a, b := socketPair(t)
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				key := uint64(g)<<32 | uint64(i)
				if err := p.Add(a, key); err != nil {
					t.Error(err)
					return
				}
				unix.Write(b, []byte{1})
				if err := p.Delete(a); err != nil {
					t.Error(err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(stop)
	p.Notify()
	<-waiterDone
}

// TestNoAllocs checks that the steady state allocates nothing: Notify,
// Wait (after the first, which sizes the buffer), and Wait with a timeout.
func TestNoAllocs(t *testing.T) {
	p := newTestPoller(t)
	a, b := socketPair(t)
	if err := p.Add(a, 1); err != nil {
		t.Fatal(err)
	}
	var buf [16]Event
	p.Wait(buf[:], 0)
	var rd [8]byte
	allocs := testing.AllocsPerRun(200, func() {
		p.Notify()
		p.Wait(buf[:], -1)
		unix.Write(b, rd[:1])
		p.Wait(buf[:], time.Millisecond)
		unix.Read(a, rd[:])
		p.Wait(buf[:], 0)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per cycle, want 0", allocs)
	}
}
