//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package poller_test

import (
	"fmt"
	"time"

	"github.com/smolgo/smol/internal/poller"
	"golang.org/x/sys/unix"
)

// A connected pair of sockets: register one end, write to the other, and
// wait for the readable edge. The key chosen at Add comes back in the event.
func Example() {
	p, err := poller.New()
	if err != nil {
		panic(err)
	}
	defer p.Close()

	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		panic(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	unix.SetNonblock(fds[0], true)

	// Register once, for both directions, edge-triggered. Delete before
	// closing.
	if err := p.Add(fds[0], 0xdeadbeefcafef00d); err != nil {
		panic(err)
	}
	defer p.Delete(fds[0])

	unix.Write(fds[1], []byte("hi"))

	events := make([]poller.Event, 16)
	for {
		n, err := p.Wait(events, -1)
		if err != nil {
			panic(err)
		}
		for _, e := range events[:n] {
			if e.Readable {
				// Edge-triggered: read until EAGAIN (or a short read).
				buf := make([]byte, 64)
				m, _ := unix.Read(fds[0], buf)
				fmt.Printf("key %#x: read %q\n", e.Key, buf[:m])
				return
			}
		}
	}
	// Output: key 0xdeadbeefcafef00d: read "hi"
}

// Notify from another goroutine wakes a Wait that is blocked with no
// timeout; the wake-up itself is not an event.
func ExamplePoller_Notify() {
	p, err := poller.New()
	if err != nil {
		panic(err)
	}
	defer p.Close()

	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(10 * time.Millisecond)
		p.Notify()
		p.Notify() // deduplicated: no second write
	}()

	events := make([]poller.Event, 16)
	n, err := p.Wait(events, -1)
	fmt.Println(n, err)
	<-done
	// Output: 0 <nil>
}
