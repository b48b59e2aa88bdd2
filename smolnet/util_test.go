package smolnet_test

import (
	"bytes"
	"errors"
	"io"
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
	smol.SpawnOn[struct{}](ex, s).Detach()
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

func (s *echoServer[C]) Poll(cx *smol.Context) (struct{}, bool) {
	for {
		c, ok, err := s.ln.PollAccept(cx)
		if !ok {
			return struct{}{}, false
		}
		if err != nil {
			return struct{}{}, true
		}
		s.mu.Lock()
		s.accepted++
		s.conns = append(s.conns, c)
		s.mu.Unlock()
		smol.SpawnOn[struct{}](s.ex, &echoConn{c: c, srv: s}).Detach()
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

func (e *echoConn) Poll(cx *smol.Context) (struct{}, bool) {
	buf := e.srv.shared()
	for range 16 {
		if len(e.pending) > 0 {
			n, ok, err := e.c.PollWrite(cx, e.pending)
			if !ok {
				return struct{}{}, false
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
			return struct{}{}, true
		}
		n, ok, err := e.c.PollRead(cx, buf)
		if !ok {
			return struct{}{}, false
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
	return struct{}{}, false
}

func (e *echoConn) fail(err error) (struct{}, bool) {
	e.srv.noteErr(err)
	e.c.Close()
	return struct{}{}, true
}

// mustDial dials addr from the test goroutine.
func mustDial(t testing.TB, addr string) *smolnet.TCPConn {
	t.Helper()
	r := smol.BlockOn(smolnet.Dial("tcp", addr))
	if r.Err != nil {
		t.Fatalf("dial %s: %v", addr, r.Err)
	}
	return r.Value
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
	Read(p []byte) smol.Future[smol.Result[int]]
}) ([]byte, error) {
	var out []byte
	buf := make([]byte, 32<<10)
	for {
		res := smol.BlockOn(r.Read(buf))
		out = append(out, buf[:res.Value]...)
		if res.Err == io.EOF {
			return out, nil
		}
		if res.Err != nil {
			return out, res.Err
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
