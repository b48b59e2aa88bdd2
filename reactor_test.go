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
