package server

import (
	"github.com/smolgo/smol"
	"golang.org/x/sys/unix"
)

// fence is a future that is ready once the reactor has delivered every
// readiness event that happened before the fence's first poll.
//
// It is a pipe whose read end is registered with the reactor. The first
// poll waits for the read end's readiness without looking at the pipe (its
// read operation says EAGAIN once, unconditionally), so that, by smol.FD's
// rule, only readiness reported after that poll satisfies it; then it
// writes one byte. The kernel queues that edge behind every edge that came
// before it (epoll's ready list is first in, first out), so by the time the
// reactor reports it, it has reported those too and bumped their
// descriptors' readiness counts. The first poll must be the first
// operation of its task's poll, so that the cooperative budget cannot make
// it return pending before it registers.
type fence struct {
	fd    *smol.FD
	w     int
	armed bool
}

func newFence() (*fence, error) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return nil, err
	}
	fd, err := smol.NewFD(p[0])
	if err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		return nil, err
	}
	return &fence{fd: fd, w: p[1]}, nil
}

func (f *fence) Poll(cx *smol.Context) (struct{}, bool, error) {
	first := !f.armed
	_, ok, err := f.fd.PollReadWith(cx, func(fd int) (int, error) {
		if first {
			first = false
			return 0, unix.EAGAIN
		}
		var b [1]byte
		return unix.Read(fd, b[:])
	})
	if !f.armed {
		f.armed = true
		unix.Write(f.w, []byte{1})
	}
	if !ok {
		return struct{}{}, false, nil
	}
	return struct{}{}, true, err
}

func (f *fence) close() {
	if f.w >= 0 {
		f.fd.Close()
		unix.Close(f.w)
		f.w = -1
	}
}
