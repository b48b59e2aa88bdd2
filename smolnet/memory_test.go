package smolnet_test

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
)

// TestIdleConnHeap measures the Go heap that an idle server connection
// holds: the TCPConn, its smol.FD, the echo state machine and its task. It
// checks a loose bound, to catch a per-connection buffer creeping in; the
// benchmark module measures resident memory properly.
func TestIdleConnHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	const conns = 2000
	ln := listen(t)
	ex := startExecutor(t)

	// Connect every client first (the kernel queues them), so that the
	// measurement sees only what the server allocates.
	clients := make([]net.Conn, 0, conns)
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range conns {
		c, err := net.Dial("tcp", ln.AddrPort().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	before := heapInUse()
	srv := serveEcho[*smolnet.TCPConn](t, ex, ln)
	for srv.Accepted() < conns {
		time.Sleep(time.Millisecond)
	}
	// Let every echo task run once and park on its socket.
	smol.BlockOn(smol.SpawnOn(ex, smol.Ready(struct{}{})))
	after := heapInUse()
	per := float64(after-before) / conns
	t.Logf("Go heap per idle server connection: %.0f B", per)
	if per > 1024 {
		t.Errorf("an idle connection holds %.0f B of heap, want under 1 KiB", per)
	}
	runtime.KeepAlive(clients)
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestCanceledTaskClosesSocket: closing an executor cancels the tasks on
// it and drops their futures; the sockets those futures held are closed
// once collected, not leaked.
func TestCanceledTaskClosesSocket(t *testing.T) {
	ln := listen(t)
	before := openFileCount(t)
	func() {
		ex := smol.NewLocalExecutor()
		const n = 20
		conns := make([]net.Conn, 0, n)
		for range n {
			c, err := net.Dial("tcp", ln.AddrPort().String())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		// Accept them all into echo tasks, then close the executor with
		// the tasks waiting to read.
		s := &echoServer[*smolnet.TCPConn]{ex: ex, ln: ln, buf: make([]byte, 1024)}
		task := smol.SpawnOn(ex, s)
		for s.Accepted() < n {
			ex.TryTick()
		}
		task.Cancel()
		for ex.TryTick() {
		}
		s.conns = nil
		if got := openFileCount(t); got < before+2*n {
			t.Fatalf("%d descriptors open, want at least %d", got, before+2*n)
		}
		ex.Close()
	}()
	// The clients are closed; the server sockets must follow.
	for i := 0; openFileCount(t) > before; i++ {
		if i == 1000 {
			t.Fatalf("%d server sockets of canceled tasks still open", openFileCount(t)-before)
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}
