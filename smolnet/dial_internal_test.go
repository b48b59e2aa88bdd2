package smolnet

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/smolgo/smol"
)

// TestDialFallsBack: when the first address of a host fails, the next one
// is tried.
func TestDialFallsBack(t *testing.T) {
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := &dialFuture{network: "tcp", guard: new(dialGuard), port: ln.AddrPort().Port(),
		addrs: []netip.Addr{netip.MustParseAddr("::1"), netip.MustParseAddr("127.0.0.1")}}
	c, err := smol.BlockOn(f)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddrPort() != ln.AddrPort() {
		t.Errorf("connected to %v, want %v", c.RemoteAddrPort(), ln.AddrPort())
	}
}

// TestDroppedDialClosesSocket: a dial future abandoned mid-connect closes
// its socket once it is garbage collected.
func TestDroppedDialClosesSocket(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd")
	}
	// A listener with a full queue makes connects hang.
	ln := fullListener(t)

	before := openFiles(t)
	func() {
		f := Dial("tcp", ln.AddrPort().String())
		if _, ok, _ := f.Poll(smol.NewContext(smol.NoopWaker)); ok {
			t.Skip("the connect completed; cannot leave it hanging here")
		}
		if openFiles(t) != before+1 {
			t.Fatalf("dialing opened %d descriptors, want 1", openFiles(t)-before)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for openFiles(t) > before {
		if time.Now().After(deadline) {
			t.Fatal("the socket of a dropped dial future was never closed")
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

// fullListener returns a loopback listener whose queue is full, so that
// the kernel drops further SYNs and a dial to it hangs. The queue holds
// backlog+1 connections on Linux; the listener and its queued clients are
// closed when the test ends.
func fullListener(t testing.TB) *TCPListener {
	t.Helper()
	lc := ListenConfig{Backlog: 1}
	ln, err := lc.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	for range 4 {
		c, err := net.DialTimeout("tcp", ln.AddrPort().String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	return ln
}

// FullListener is fullListener for the external tests.
var FullListener = fullListener

func openFiles(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
