//go:build linux

package echo_test

import (
	"net/netip"
	"runtime"
	"testing"
	"unsafe"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/internal/echo"
	"github.com/smolgo/smol/smolnet"
	"golang.org/x/sys/unix"
)

// TestIdleSizes guards the records an idle connection of the echo server
// holds, so that a field added to one of them fails here rather than as a
// few percent in a benchmark: the reactor's FD (64 bytes, a size class of
// its own), the TCPConn (48) and the echo state machine (24). The task
// that runs the state machine is guarded by the root package's
// TestIdleSizes.
func TestIdleSizes(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"smol.FD", unsafe.Sizeof(smol.FD{}), 64},
		{"smolnet.TCPConn", unsafe.Sizeof(smolnet.TCPConn{}), 48},
		{"echo.Conn", unsafe.Sizeof(echo.Conn{}), 24},
	} {
		if c.got != c.want {
			t.Errorf("%s is %d bytes, want %d", c.name, c.got, c.want)
		}
	}
}

// client is a blocking socket connected to addr, driven with bare system
// calls, so that the test's own side allocates nothing that the
// measurements below would count.
type client int

// dialRaw connects to sa, which the caller builds once: a socket address
// passed to Connect escapes to the heap.
func dialRaw(t testing.TB, sa *unix.SockaddrInet4) client {
	t.Helper()
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Connect(s, sa); err != nil {
		unix.Close(s)
		t.Fatal(err)
	}
	return client(s)
}

func sockaddr(addr string) *unix.SockaddrInet4 {
	ap := netip.MustParseAddrPort(addr)
	return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
}

// roundTrip writes msg and reads its echo into buf; it reports false on
// an error or a wrong echo.
func (c client) roundTrip(msg, buf []byte) bool {
	if n, err := unix.Write(int(c), msg); err != nil || n != len(msg) {
		return false
	}
	for got := 0; got < len(msg); {
		n, err := unix.Read(int(c), buf[got:len(msg)])
		if err != nil || n <= 0 {
			return false
		}
		got += n
	}
	return string(buf[:len(msg)]) == string(msg)
}

// TestIdleConnMemory opens idle connections to the echo server, one round
// trip each (so that every connection's task has run and waits to read),
// and measures what the server allocated for them: all the bytes, the
// garbage of accepting them too, since garbage is what makes a heap, and
// the resident memory, grow beyond what is live. The bound is the budget
// for an idle connection, 400 bytes; a finalizer's record (56 bytes,
// outside the Go heap) comes on top, as does the kernel's socket. The
// benchmark module measures the resident memory of 19,000 connections.
func TestIdleConnMemory(t *testing.T) {
	const warm, n = 100, 4000 // 2n+ descriptors: well within 20,000
	addr, _, stop := serve(t)
	defer stop()
	sa := sockaddr(addr)
	msg, buf := []byte{'x'}, make([]byte, 1)
	clients := make([]client, 0, warm+n)
	defer func() {
		for _, c := range clients {
			unix.Close(int(c))
		}
	}()
	open := func(k int) {
		for range k {
			c := dialRaw(t, sa)
			clients = append(clients, c)
			if !c.roundTrip(msg, buf) {
				t.Fatal("echo failed")
			}
		}
	}
	// Warm up: the reactor, the first chunk of its table and the
	// executor's registry come with the first connections.
	open(warm)
	var before, loaded, live runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	open(n)
	runtime.ReadMemStats(&loaded)
	runtime.GC()
	runtime.ReadMemStats(&live)
	alloc := float64(loaded.TotalAlloc-before.TotalAlloc) / n
	objs := float64(loaded.Mallocs-before.Mallocs) / n
	held := float64(int64(live.HeapAlloc)-int64(before.HeapAlloc)) / n
	t.Logf("per idle connection: %.0f B allocated in %.2f objects, %.0f B live after a GC", alloc, objs, held)
	if alloc > 400 {
		t.Errorf("the server allocated %.0f B per idle connection, want at most 400", alloc)
	}
}

// TestEchoRoundTripAllocs: once a connection is open, an echo round trip
// allocates nothing, in the server or in the runtime under it: the read,
// the write, the wake and the re-arm reuse what the first round trip
// made.
func TestEchoRoundTripAllocs(t *testing.T) {
	addr, _, stop := serve(t)
	defer stop()
	c := dialRaw(t, sockaddr(addr))
	defer unix.Close(int(c))
	msg, buf := make([]byte, 64), make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for range 100 { // warm up
		if !c.roundTrip(msg, buf) {
			t.Fatal("echo failed")
		}
	}
	ok := true
	allocs := testing.AllocsPerRun(2000, func() { ok = c.roundTrip(msg, buf) && ok })
	if !ok {
		t.Fatal("echo failed")
	}
	if allocs != 0 {
		t.Errorf("an echo round trip allocates %v times, want 0", allocs)
	}
}
