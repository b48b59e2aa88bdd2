package smolnet_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
)

func TestEchoRoundTrip(t *testing.T) {
	ex := startExecutor(t)
	ln := listen(t)
	serveEcho[*smolnet.TCPConn](t, ex, ln)

	c := mustDial(t, ln.AddrPort().String())
	defer c.Close()
	if got, want := c.RemoteAddrPort(), ln.AddrPort(); got != want {
		t.Errorf("RemoteAddrPort = %v, want %v", got, want)
	}
	if !c.LocalAddrPort().Addr().IsLoopback() {
		t.Errorf("LocalAddrPort = %v", c.LocalAddrPort())
	}
	buf := make([]byte, 64)
	for i := range 100 {
		msg := []byte{byte(i), 1, 2, 3}
		if n, err := smol.BlockOn(c.WriteAll(msg)); err != nil || n != len(msg) {
			t.Fatalf("WriteAll: %d, %v", n, err)
		}
		n, err := smol.BlockOn(c.Read(buf))
		if err != nil || !bytes.Equal(buf[:n], msg) {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, msg)
		}
	}
}

// TestHalfClose: everything sent before CloseWrite is echoed back after it,
// including more than the socket buffers hold, so the server has to write
// after it has read EOF.
func TestHalfClose(t *testing.T) {
	ex := startExecutor(t)
	ln := listen(t)
	serveEcho[*smolnet.TCPConn](t, ex, ln)

	c := mustDial(t, ln.AddrPort().String())
	defer c.Close()
	echoHalfClose(t, c, 8<<20, 1)
}

// TestHalfCloseReplyAfterEOF: a server that answers only after the client's
// CloseWrite can still write, and the client reads the answer.
func TestHalfCloseReplyAfterEOF(t *testing.T) {
	ln := listen(t)
	c, s := connPair(t, ln)

	if _, err := smol.BlockOn(c.WriteAll([]byte("question"))); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	q, err := readAll(s)
	if err != nil || string(q) != "question" {
		t.Fatalf("server read %q, %v", q, err)
	}
	if _, err := smol.BlockOn(s.WriteAll([]byte("answer"))); err != nil {
		t.Fatal(err)
	}
	s.Close()
	ans, err := readAll(c)
	if err != nil || string(ans) != "answer" {
		t.Fatalf("client read %q, %v", ans, err)
	}
	// Writing after CloseWrite fails with EPIPE.
	_, err = smol.BlockOn(c.Write([]byte("x")))
	wantOpError(t, err, "write", syscall.EPIPE)
}

// TestEOFAfterHarvestedData: data and the peer's FIN that the reactor
// reported in one readiness event, before anyone read, are both seen: the
// data, then io.EOF. (A reader that assumes a short read drained the
// socket, and waits for the next edge, would hang here.)
func TestEOFAfterHarvestedData(t *testing.T) {
	ln := listen(t)
	c, s := connPair(t, ln)

	if _, err := smol.BlockOn(c.WriteAll([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	smol.BlockOn(smol.Sleep(20 * time.Millisecond)) // the reactor takes in the event
	buf := make([]byte, 100)
	var got []byte
	_, err := smol.BlockOn(smol.Timeout(smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
		for {
			n, ok, err := s.PollRead(cx, buf)
			if !ok {
				return struct{}{}, false, nil
			}
			got = append(got, buf[:n]...)
			if err != nil {
				return struct{}{}, true, err
			}
		}
	}), 10*time.Second))
	if err != io.EOF || string(got) != "abc" {
		t.Fatalf("read %q, then %v; want abc, then io.EOF", got, err)
	}
}

// TestPeerReset: a peer that closes with SO_LINGER 0 resets the connection;
// a blocked read fails with ECONNRESET, and so does (or EPIPE) a write.
func TestPeerReset(t *testing.T) {
	ln := listen(t)
	c, s := connPair(t, ln)

	// Block a read, then reset from the other side.
	readDone := goBlockOn(c.Read(make([]byte, 10)))
	if err := s.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := <-readDone
	wantOpError(t, r.err, "read", syscall.ECONNRESET)
	var se *os.SyscallError
	if !errors.As(r.err, &se) {
		t.Errorf("Err is %T, want *os.SyscallError inside", errors.Unwrap(r.err))
	}
	if oe := r.err.(*net.OpError); oe.Net != "tcp" || oe.Addr.String() != ln.AddrPort().String() {
		t.Errorf("OpError Net %q Addr %v", oe.Net, oe.Addr)
	}

	_, err := smol.BlockOn(c.Write([]byte("after reset")))
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("write after reset: %v, want EPIPE or ECONNRESET", err)
	}
	wantOpError(t, err, "write", nil)
}

// TestResetMidWrite: a writer blocked on a full buffer when the peer resets
// is woken with an error.
func TestResetMidWrite(t *testing.T) {
	ln := listen(t)
	c, s := connPair(t, ln)

	big := make([]byte, 64<<20)
	wrote := goBlockOn(c.WriteAll(big))
	s.SetLinger(0)
	s.Close()
	w := <-wrote
	if !errors.Is(w.err, syscall.EPIPE) && !errors.Is(w.err, syscall.ECONNRESET) {
		t.Fatalf("write: %v, want EPIPE or ECONNRESET", w.err)
	}
	wantOpError(t, w.err, "write", nil)
	if w.v >= len(big) {
		t.Errorf("WriteAll failed having written %d of %d bytes", w.v, len(big))
	}
}

// flagWaker records wakes.
type flagWaker struct{ ch chan struct{} }

func newFlagWaker() *flagWaker { return &flagWaker{ch: make(chan struct{}, 1)} }

func (w *flagWaker) Wake() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// TestBackPressure: with a peer that does not read, PollWrite becomes
// pending after a bounded amount, and is woken once the peer reads.
func TestBackPressure(t *testing.T) {
	ln := listen(t)
	c, s := connPair(t, ln)

	w := newFlagWaker()
	cx := smol.NewContext(w)
	chunk := make([]byte, 64<<10)
	total := 0
	for {
		n, ok, err := c.PollWrite(cx, chunk)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		total += n
		if total > 256<<20 {
			t.Fatal("PollWrite never pending with a peer that does not read")
		}
	}
	t.Logf("kernel buffered %d KiB before PollWrite was pending", total>>10)
	select {
	case <-w.ch:
		t.Fatal("woken before the peer read anything")
	default:
	}

	// Drain on another goroutine; the pending write must be woken.
	drained := make(chan error, 1)
	go func() {
		got, err := readAll(s)
		if err == nil && len(got) < total {
			err = errors.New("short read")
		}
		drained <- err
	}()
	<-w.ch
	c.CloseWrite()
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
}

func TestClosedSocketErrors(t *testing.T) {
	ln := listen(t)
	c, _ := connPair(t, ln)

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	wantOpError(t, c.Close(), "close", net.ErrClosed)
	_, err := smol.BlockOn(c.Read(make([]byte, 1)))
	wantOpError(t, err, "read", net.ErrClosed)
	_, err = smol.BlockOn(c.Write([]byte("x")))
	wantOpError(t, err, "write", net.ErrClosed)
	wantOpError(t, c.CloseWrite(), "close", net.ErrClosed)
	wantOpError(t, c.SetNoDelay(true), "set", net.ErrClosed)

	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = smol.BlockOn(ln.Accept())
	wantOpError(t, err, "accept", net.ErrClosed)
	wantOpError(t, ln.Close(), "close", net.ErrClosed)
}

// TestCloseWakesWaiters: Close from another goroutine releases a blocked
// read and a blocked accept.
func TestCloseWakesWaiters(t *testing.T) {
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	acc := goBlockOn(ln.Accept())

	ln2 := listen(t)
	c := mustDial(t, ln2.AddrPort().String())
	rd := goBlockOn(c.Read(make([]byte, 1)))

	time.Sleep(10 * time.Millisecond) // let both block (not required for correctness)
	ln.Close()
	c.Close()
	wantOpError(t, (<-acc).err, "accept", net.ErrClosed)
	wantOpError(t, (<-rd).err, "read", net.ErrClosed)
}

func TestListenErrors(t *testing.T) {
	ln := listen(t)
	_, err := smolnet.Listen("tcp", ln.AddrPort().String())
	wantOpError(t, err, "listen", syscall.EADDRINUSE)

	_, err = smolnet.Listen("tcp", "192.0.2.1:0") // TEST-NET-1, not local
	wantOpError(t, err, "listen", syscall.EADDRNOTAVAIL)

	_, err = smolnet.Listen("tcp", "127.0.0.1")
	wantOpError(t, err, "listen", nil)
	var ae *net.AddrError
	if !errors.As(err, &ae) {
		t.Errorf("missing port: got %v, want a *net.AddrError inside", err)
	}

	_, err = smolnet.Listen("tcp", "127.0.0.1:99999")
	wantOpError(t, err, "listen", nil)

	_, err = smolnet.Listen("tcp4", "[::1]:0")
	wantOpError(t, err, "listen", nil)

	_, err = smolnet.Listen("sctp", ":0")
	wantOpError(t, err, "listen", nil)
	var une net.UnknownNetworkError
	if !errors.As(err, &une) {
		t.Errorf("unknown network: got %v", err)
	}
}

func TestDialErrors(t *testing.T) {
	// Refused: a port nobody listens on (one just freed).
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.AddrPort().String()
	ln.Close()
	c, err := smol.BlockOn(smolnet.Dial("tcp", addr))
	wantOpError(t, err, "dial", syscall.ECONNREFUSED)
	if c != nil {
		t.Error("connection returned with an error")
	}
	if oe := err.(*net.OpError); oe.Addr == nil || oe.Addr.String() != addr {
		t.Errorf("OpError.Addr = %v, want %s", oe.Addr, addr)
	}

	// Unusable addresses.
	for _, a := range []string{"127.0.0.1", "127.0.0.1:http-nonexistent-service", "[::1]:80:80"} {
		_, err := smol.BlockOn(smolnet.Dial("tcp", a))
		wantOpError(t, err, "dial", nil)
	}
	_, err = smol.BlockOn(smolnet.Dial("tcp4", "[::1]:80"))
	wantOpError(t, err, "dial", nil)
	_, err = smol.BlockOn(smolnet.Dial("udp", "127.0.0.1:80"))
	wantOpError(t, err, "dial", nil)
}

func TestDialHostName(t *testing.T) {
	ex := startExecutor(t)
	ln := listen(t)
	serveEcho[*smolnet.TCPConn](t, ex, ln)
	c, err := smol.BlockOn(smolnet.Dial("tcp4", "localhost:"+portString(ln)))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	// On "tcp", localhost may resolve to ::1 first, where nobody listens:
	// the dial falls back to the next address.
	c, err = smol.BlockOn(smolnet.Dial("tcp", "localhost:"+portString(ln)))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	ips, err := smol.BlockOn(smolnet.Resolve("localhost"))
	if err != nil || len(ips) == 0 {
		t.Fatalf("Resolve(localhost) = %v, %v", ips, err)
	}
	ips, err = smol.BlockOn(smolnet.Resolve("::1"))
	if err != nil || len(ips) != 1 || !ips[0].IsLoopback() {
		t.Fatalf("Resolve(::1) = %v, %v", ips, err)
	}
}

// openFileCount counts this process's open descriptors.
func openFileCount(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("cannot count open files:", err)
	}
	return len(ents)
}

func portString(ln *smolnet.TCPListener) string {
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestDialTimeout: a listener whose queue is full drops SYNs, so a dial to
// it hangs until the timeout.
func TestDialTimeout(t *testing.T) {
	ln := smolnet.FullListener(t)
	c, err := smol.BlockOn(smolnet.DialTimeout("tcp", ln.AddrPort().String(), 50*time.Millisecond))
	if err == nil {
		c.Close()
		t.Skip("the kernel accepted a connection beyond the backlog; cannot provoke a dial timeout here")
	}
	wantOpError(t, err, "dial", os.ErrDeadlineExceeded)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("dial timeout: %v has no Timeout() true", err)
	}
}

func TestSocketOptions(t *testing.T) {
	ln := listen(t)
	c := mustDial(t, ln.AddrPort().String())
	defer c.Close()
	for name, err := range map[string]error{
		"SetNoDelay(false)":   c.SetNoDelay(false),
		"SetNoDelay(true)":    c.SetNoDelay(true),
		"SetKeepAlive(true)":  c.SetKeepAlive(true),
		"SetKeepAlivePeriod":  c.SetKeepAlivePeriod(30 * time.Second),
		"SetKeepAlive(false)": c.SetKeepAlive(false),
		"SetReadBuffer":       c.SetReadBuffer(1 << 16),
		"SetWriteBuffer":      c.SetWriteBuffer(1 << 16),
		"SetLinger(5)":        c.SetLinger(5),
		"SetLinger(-1)":       c.SetLinger(-1),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReusePort(t *testing.T) {
	lc := smolnet.ListenConfig{ReusePort: true}
	a, err := lc.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := lc.Listen("tcp", a.AddrPort().String())
	if err != nil {
		t.Fatalf("second listener with ReusePort: %v", err)
	}
	b.Close()
}

func TestDualStackListen(t *testing.T) {
	ln, err := smolnet.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := portString(ln)
	for _, host := range []string{"127.0.0.1", "[::1]"} {
		c, err := smol.BlockOn(smolnet.Dial("tcp", host+":"+port))
		if err != nil {
			if host == "[::1]" {
				t.Logf("no IPv6 loopback: %v", err)
				continue
			}
			t.Fatal(err)
		}
		s, err := smol.BlockOn(ln.Accept())
		if err != nil {
			t.Fatal(err)
		}
		if s.LocalAddrPort().Addr().IsUnspecified() {
			t.Errorf("accepted conn's local address is %v", s.LocalAddrPort())
		}
		s.Close()
		c.Close()
	}
}

// TestManyConnections: 8,000 concurrent loopback connections, each echoing
// a random payload that is checked byte for byte. Client and server share
// the process, so it needs 16,000 descriptors and a little more.
func TestManyConnections(t *testing.T) {
	const conns = 8000
	need := uint64(2*conns + 200)
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	if fileLimit < need {
		t.Fatalf("this test needs %d open files (8,000 connections, both ends in one process); "+
			"RLIMIT_NOFILE is %d and the hard limit could not be raised further: raise it with ulimit -Hn", need, fileLimit)
	}
	// Sockets dropped by earlier tests are closed by the garbage collector;
	// give it a moment before counting.
	for i := 0; fileLimit-uint64(openFileCount(t)) < need; i++ {
		if i == 100 {
			t.Fatalf("this test needs %d free file descriptors; %d of %d are in use", need, openFileCount(t), fileLimit)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	ln, err := (&smolnet.ListenConfig{}).Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	srv := serveEcho[*smolnet.TCPConn](t, ex, ln)

	// The clients run on the same executor. A launcher keeps at most 256
	// dials in flight, so the accept queue never overflows into SYN
	// retransmits; every client keeps its connection open until all of them
	// have finished echoing, so all 8,000 are open at once.
	st := &manyState{ex: ex, addr: ln.AddrPort().String(), conns: conns}
	st.allDone = make(chan struct{})
	// A bug that loses a wake must fail the test, not hang it.
	_, err = smol.Run(ex, smol.Timeout(smol.PollFn(st.poll), 5*time.Minute))
	if errors.Is(err, smol.ErrTimeout) {
		t.Fatalf("stuck: %d launched, %d dialing, %d open, %d finished, %d failed (first error: %v)",
			st.launched, st.dialing, st.open, st.finished, st.failed.Load(), st.firstErr)
	}
	if err != nil {
		t.Fatal(err)
	}
	if st.failed.Load() != 0 {
		t.Fatalf("%d clients failed; first error: %v", st.failed.Load(), st.firstErr)
	}
	if got := srv.Accepted(); got != conns {
		t.Errorf("server accepted %d connections, want %d", got, conns)
	}
	if errs := srv.Errs(); len(errs) > 0 {
		t.Errorf("server errors: %d, first: %v", len(errs), errs[0])
	}
	t.Logf("%d connections, %d MiB echoed, peak %d open at once", conns, st.bytes.Load()>>20, st.peakOpen)
}

type manyState struct {
	ex       *smol.LocalExecutor
	addr     string
	conns    int
	launched int
	dialing  int
	open     int
	peakOpen int
	finished int
	clients  []*manyClient
	allDone  chan struct{}
	released bool
	failed   atomic.Int32
	firstErr error
	bytes    atomic.Int64
	errOnce  sync.Once
	self     smol.Waker
}

// poll launches clients and, once every client has echoed, releases them
// to close; it is ready when all have closed.
func (st *manyState) poll(cx *smol.Context) (struct{}, bool, error) {
	st.self = cx.Waker()
	for st.launched < st.conns && st.dialing < 256 {
		c := &manyClient{st: st, id: st.launched, dial: smolnet.Dial("tcp", st.addr)}
		st.clients = append(st.clients, c)
		st.launched++
		st.dialing++
		smol.SpawnOn(st.ex, c).Detach()
	}
	if st.finished == st.conns && !st.released {
		// Everyone has echoed while all connections were open: release them.
		st.released = true
		for _, c := range st.clients {
			c.wake()
		}
	}
	if st.released && st.open == 0 {
		return struct{}{}, true, nil
	}
	return struct{}{}, false, nil
}

func (st *manyState) fail(err error) {
	st.errOnce.Do(func() { st.firstErr = err })
	st.failed.Add(1)
}

// manyClient sends a random payload, half-closes, reads the echo to EOF
// (reading while writing, as the payload may exceed the socket buffers),
// checks it, and waits for the release to close.
type manyClient struct {
	st      *manyState
	id      int
	dial    smol.Future[*smolnet.TCPConn]
	c       *smolnet.TCPConn
	want    []byte
	out     []byte
	got     int
	buf     [4096]byte
	state   int // 0 echoing, 1 waiting for release, 2 done
	waker   smol.Waker
	counted bool
}

func (m *manyClient) wake() {
	if m.waker != nil {
		m.waker.Wake()
	}
}

func (m *manyClient) Poll(cx *smol.Context) (struct{}, bool, error) {
	st := m.st
	if m.c == nil {
		c, ok, err := m.dial.Poll(cx)
		if !ok {
			return struct{}{}, false, nil
		}
		st.dialing--
		st.self.Wake()
		if err != nil {
			st.fail(err)
			st.finished++
			return struct{}{}, true, nil
		}
		m.c = c
		st.open++
		st.peakOpen = max(st.peakOpen, st.open)
		rng := rand.New(rand.NewPCG(uint64(m.id), 7))
		size := 1 + rng.IntN(4096)
		if m.id%100 == 0 {
			size = 256 << 10 // some exceed the socket buffers
		}
		m.want = make([]byte, size)
		for i := range m.want {
			m.want[i] = byte(rng.Uint32())
		}
		m.out = m.want
	}
	switch m.state {
	case 0:
		for {
			for len(m.out) > 0 {
				n, ok, err := m.c.PollWrite(cx, m.out)
				if !ok {
					break
				}
				if err != nil {
					return m.finish(err)
				}
				if m.out = m.out[n:]; len(m.out) == 0 {
					if err := m.c.CloseWrite(); err != nil {
						return m.finish(err)
					}
				}
			}
			n, ok, err := m.c.PollRead(cx, m.buf[:])
			if !ok {
				return struct{}{}, false, nil
			}
			if err == io.EOF {
				if m.got != len(m.want) || len(m.out) > 0 {
					return m.finish(errors.New("EOF before the whole echo"))
				}
				st.bytes.Add(int64(m.got))
				m.state = 1
				m.waker = cx.Waker()
				st.finished++
				st.self.Wake()
				break
			}
			if err != nil {
				return m.finish(err)
			}
			if m.got+n > len(m.want) || !bytes.Equal(m.buf[:n], m.want[m.got:m.got+n]) {
				return m.finish(errors.New("echoed bytes differ"))
			}
			m.got += n
		}
		fallthrough
	case 1:
		if !st.released {
			return struct{}{}, false, nil
		}
		m.c.Close()
		st.open--
		st.self.Wake()
		return struct{}{}, true, nil
	}
	return struct{}{}, true, nil
}

// finish counts a failed client; the failure is the test's to report, so
// the task itself succeeds.
func (m *manyClient) finish(err error) (struct{}, bool, error) {
	m.st.fail(err)
	m.c.Close()
	m.st.open--
	m.st.finished++
	m.st.self.Wake()
	return struct{}{}, true, nil
}
