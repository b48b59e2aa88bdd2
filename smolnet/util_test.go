package smolnet_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
)

// startExecutor runs a LocalExecutor on a goroutine until the test ends.
func startExecutor(t testing.TB) *smol.LocalExecutor {
	ex := smol.NewLocalExecutor()
	done := make(chan struct{})
	go func() {
		defer close(done)
		smol.Run(ex, smol.Never[struct{}]())
	}()
	t.Cleanup(func() {
		ex.Close()
		<-done
	})
	return ex
}

// streamConn is what the test echo server needs of TCP and Unix conns.
type streamConn interface {
	PollRead(cx *smol.Context, p []byte) (int, bool, error)
	PollWrite(cx *smol.Context, p []byte) (int, bool, error)
	Close() error
}

// echoServer accepts connections and echoes each one with an echoConn task.
// All its tasks share buf: they run on one LocalExecutor goroutine and use
// buf only within a poll.
type echoServer[C streamConn] struct {
	ex *smol.LocalExecutor
	ln interface {
		PollAccept(*smol.Context) (C, bool, error)
	}
	buf []byte

	mu       sync.Mutex
	conns    []C
	accepted int
	errs     []error // errors of echo connections, other than resets
}

// serveEcho starts an echo server on ex; when the test ends, it closes
// every connection it accepted, so that no socket outlives the test (the
// executor is closed after, by startExecutor's cleanup).
func serveEcho[C streamConn](t testing.TB, ex *smol.LocalExecutor, ln interface {
	PollAccept(*smol.Context) (C, bool, error)
}) *echoServer[C] {
	s := &echoServer[C]{ex: ex, ln: ln, buf: make([]byte, 16<<10)}
	smol.SpawnOn(ex, s).Detach()
	t.Cleanup(func() {
		s.mu.Lock()
		conns := s.conns
		s.conns = nil
		s.mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return s
}

func (s *echoServer[C]) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		c, ok, err := s.ln.PollAccept(cx)
		if !ok {
			return struct{}{}, false, nil
		}
		if err != nil {
			return struct{}{}, true, nil
		}
		s.mu.Lock()
		s.accepted++
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		smol.SpawnOn(s.ex, &echoConn{c: c, srv: s}).Detach()
	}
}

func (s *echoServer[C]) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

func (s *echoServer[C]) noteErr(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

func (s *echoServer[C]) Errs() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// echoConn echoes one connection, half-close included: after EOF it writes
// back what is pending and then closes.
type echoConn struct {
	c   streamConn
	srv interface {
		noteErr(error)
		shared() []byte
	}
	pending []byte
	eof     bool
}

func (s *echoServer[C]) shared() []byte { return s.buf }

func (e *echoConn) Poll(cx *smol.Context) (struct{}, bool, error) {
	buf := e.srv.shared()
	for range 16 {
		if len(e.pending) > 0 {
			n, ok, err := e.c.PollWrite(cx, e.pending)
			if !ok {
				return struct{}{}, false, nil
			}
			if err != nil {
				return e.fail(err)
			}
			if e.pending = e.pending[n:]; len(e.pending) > 0 {
				continue
			}
			e.pending = nil
		}
		if e.eof {
			e.c.Close()
			return struct{}{}, true, nil
		}
		n, ok, err := e.c.PollRead(cx, buf)
		if !ok {
			return struct{}{}, false, nil
		}
		if err == io.EOF {
			e.eof = true
			continue
		}
		if err != nil {
			return e.fail(err)
		}
		w, ok, err := e.c.PollWrite(cx, buf[:n])
		if ok && err != nil {
			return e.fail(err)
		}
		if w < n {
			e.pending = bytes.Clone(buf[w:n])
		}
	}
	cx.Waker().Wake()
	return struct{}{}, false, nil
}

// fail notes err and ends the connection; the task itself succeeds, as the
// server's tests look at the noted errors.
func (e *echoConn) fail(err error) (struct{}, bool, error) {
	e.srv.noteErr(err)
	e.c.Close()
	return struct{}{}, true, nil
}

// mustDial dials addr from the test goroutine.
func mustDial(t testing.TB, addr string) *smolnet.TCPConn {
	t.Helper()
	c, err := smol.BlockOn(smolnet.Dial("tcp", addr))
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return c
}

// outcome is what a future ended with, to pass over a channel.
type outcome[T any] struct {
	v   T
	err error
}

// goBlockOn runs f to completion on a new goroutine; the channel receives
// its outcome.
func goBlockOn[T any](f smol.Future[T]) <-chan outcome[T] {
	ch := make(chan outcome[T], 1)
	go func() {
		v, err := smol.BlockOn(f)
		ch <- outcome[T]{v, err}
	}()
	return ch
}

// connPair connects a client to ln and accepts it, from the test
// goroutine: it returns the client's end and the server's. Both are closed
// when the test ends (closing again is harmless).
func connPair(t testing.TB, ln *smolnet.TCPListener) (c, s *smolnet.TCPConn) {
	t.Helper()
	accepted := goBlockOn(ln.Accept())
	c = mustDial(t, ln.AddrPort().String())
	t.Cleanup(func() { c.Close() })
	a := <-accepted
	if a.err != nil {
		t.Fatalf("accept: %v", a.err)
	}
	t.Cleanup(func() { a.v.Close() })
	return c, a.v
}

// echoHalfClose sends size random bytes (from seed) on c, a connection to
// an echo server, from a task on an executor of its own, and half-closes;
// meanwhile the test goroutine reads the echo to EOF and checks it byte
// for byte. More than the socket buffers hold makes the server write
// after it has read EOF.
func echoHalfClose(t *testing.T, c interface {
	WriteAll(p []byte) smol.Future[int]
	CloseWrite() error
	Read(p []byte) smol.Future[int]
}, size int, seed byte) {
	t.Helper()
	want := make([]byte, size)
	rand.NewChaCha8([32]byte{seed}).Read(want)
	wex := startExecutor(t)
	wrote := smol.SpawnOn(wex, smol.Then(c.WriteAll(want), func(int) smol.Future[struct{}] {
		return done(c.CloseWrite())
	}))
	got, err := readAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := smol.BlockOn(wrote); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("echo differs: got %d bytes, want %d", len(got), len(want))
	}
}

// done is a future ready at once: failed with err if it is not nil.
func done(err error) smol.Future[struct{}] {
	if err != nil {
		return smol.Failed[struct{}](err)
	}
	return smol.Ready(struct{}{})
}

// listen listens on a loopback port and closes the listener when the test
// ends.
func listen(t testing.TB) *smolnet.TCPListener {
	t.Helper()
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// readAll reads r to EOF from the test goroutine.
func readAll(r interface {
	Read(p []byte) smol.Future[int]
}) ([]byte, error) {
	var out []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := smol.BlockOn(r.Read(buf))
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// wantOpError checks that err is a *net.OpError with op and that
// errors.Is(err, target) holds.
func wantOpError(t testing.TB, err error, op string, target error) {
	t.Helper()
	var oe *net.OpError
	if !errors.As(err, &oe) {
		t.Fatalf("got %T %v, want *net.OpError", err, err)
	}
	if oe.Op != op {
		t.Errorf("Op = %q, want %q (err: %v)", oe.Op, op, err)
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("errors.Is(%v, %v) = false", err, target)
	}
}
