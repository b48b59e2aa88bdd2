package smol

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func socketpair(t testing.TB) (*FD, *FD) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewFD(fds[0])
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewFD(fds[1])
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

func TestReactorSmoke(t *testing.T) {
	a, b := socketpair(t)
	defer a.Close()
	defer b.Close()
	ex := NewLocalExecutor()
	defer ex.Close()
	// reader task
	buf := make([]byte, 5)
	got := 0
	rd := SpawnOn(ex, PollFn[int](func(cx *Context) (int, bool) {
		for got < 5 {
			n, ok, err := a.PollRead(cx, buf[got:])
			if !ok {
				return 0, false
			}
			if err != nil {
				t.Error(err)
				return 0, true
			}
			got += n
		}
		return got, true
	}))
	wr := SpawnOn(ex, Then(Sleep(10*time.Millisecond), func(time.Time) Future[int] {
		return PollFn[int](func(cx *Context) (int, bool) {
			n, ok, err := b.PollWrite(cx, []byte("hello"))
			if ok && err != nil {
				t.Error(err)
			}
			return n, ok
		})
	}))
	start := time.Now()
	v, err := Run(ex, Join[int, int](rd, wr))
	if err != nil || v.A != 5 || v.B != 5 || string(buf) != "hello" {
		t.Fatal(v, err, string(buf))
	}
	if time.Since(start) < 10*time.Millisecond {
		t.Fatal("timer fired early")
	}
}

// pingPong is a state machine that writes msg and reads it back, rounds
// times, over fd; echo reads and writes back what it gets.
type pingPong struct {
	fd     *FD
	msg    []byte
	buf    []byte
	rounds int
	off    int
	wrote  bool
}

func (p *pingPong) Poll(cx *Context) (error, bool) {
	for p.rounds > 0 {
		if !p.wrote {
			n, ok, err := p.fd.PollWrite(cx, p.msg[p.off:])
			if !ok {
				return nil, false
			}
			if err != nil {
				return err, true
			}
			if p.off += n; p.off < len(p.msg) {
				continue
			}
			p.off, p.wrote = 0, true
		}
		n, ok, err := p.fd.PollRead(cx, p.buf[p.off:])
		if !ok {
			return nil, false
		}
		if err != nil || n == 0 {
			return err, true
		}
		if p.off += n; p.off == len(p.buf) {
			p.off, p.wrote = 0, false
			p.rounds--
		}
	}
	return nil, true
}

type echo struct {
	fd   *FD
	buf  []byte
	n    int
	off  int
	done int
}

func (e *echo) Poll(cx *Context) (error, bool) {
	for {
		if e.off < e.n {
			n, ok, err := e.fd.PollWrite(cx, e.buf[e.off:e.n])
			if !ok {
				return nil, false
			}
			if err != nil {
				return err, true
			}
			e.off += n
			continue
		}
		n, ok, err := e.fd.PollRead(cx, e.buf)
		if !ok {
			return nil, false
		}
		if err != nil || n == 0 {
			return err, true
		}
		e.n, e.off = n, 0
	}
}

func BenchmarkFDPingPong(b *testing.B) {
	a, c := socketpair(b)
	defer a.Close()
	ex := NewLocalExecutor()
	defer ex.Close()
	srv := SpawnOn(ex, &echo{fd: c, buf: make([]byte, 64)})
	p := &pingPong{fd: a, msg: make([]byte, 64), buf: make([]byte, 64), rounds: 100}
	if _, err := Run(ex, p); err != nil { // warm up
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	p.rounds = b.N
	if err, _ := Run(ex, p); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	c.Close()
	srv.Cancel()
}
