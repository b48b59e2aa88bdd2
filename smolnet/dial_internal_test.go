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
	r := smol.BlockOn[smol.Result[*TCPConn]](f)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	defer r.Value.Close()
	if r.Value.RemoteAddrPort() != ln.AddrPort() {
		t.Errorf("connected to %v, want %v", r.Value.RemoteAddrPort(), ln.AddrPort())
	}
}

// TestDroppedDialClosesSocket: a dial future abandoned mid-connect closes
// its socket once it is garbage collected.
func TestDroppedDialClosesSocket(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("counts descriptors in /proc/self/fd")
	}
	// A listener with a full queue makes connects hang.
	lc := ListenConfig{Backlog: 1}
	ln, err := lc.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var fill []net.Conn
	defer func() {
		for _, c := range fill {
			c.Close()
		}
	}()
	for range 4 {
		c, err := net.DialTimeout("tcp", ln.AddrPort().String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		fill = append(fill, c)
	}

	before := openFiles(t)
	func() {
		f := Dial("tcp", ln.AddrPort().String())
		if _, ok := f.Poll(smol.NewContext(smol.NoopWaker)); ok {
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

func openFiles(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}
