package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// srcAddr returns the source address of connection i: 127.0.0.1 up to
// 127.0.0.<sources>, round robin. Spreading connections over several
// source addresses keeps each address well inside the ephemeral port range
// even with TIME_WAIT sockets left over from earlier runs.
func srcAddr(i, sources int) [4]byte {
	return [4]byte{127, 0, 0, byte(1 + i%sources)}
}

// dialAll opens n connections with up to workers dials in flight, calling
// dial(i) for each index, and returns the first error. Progress goes to
// stderr when verbose. Bounding the dials in flight keeps the server's
// accept backlog from overflowing, which would cost a one-second SYN
// retransmit per dropped connection.
func dialAll(n, workers int, verbose bool, dial func(i int) error) error {
	var next atomic.Int64
	var done atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	if workers > n {
		workers = n
	}
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := dial(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the other workers
					return
				}
				if d := done.Add(1); verbose && d%5000 == 0 {
					fmt.Fprintf(os.Stderr, "loadgen: %d/%d connected\n", d, n)
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// dialRaw opens one non-blocking TCP connection from src to dst with raw
// system calls (so that it is not registered with Go's network poller),
// sends msg, verifies that exactly msg comes back, and returns the fd.
// Every wait goes through poll(2) with a deadline, so neither a dead
// server nor a signal can hang or break it.
func dialRaw(src [4]byte, dst *unix.SockaddrInet4, msg []byte, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket: %w", err)
	}
	fail := func(op string, err error) (int, error) {
		unix.Close(fd)
		return -1, fmt.Errorf("%s %d.%d.%d.%d -> %d.%d.%d.%d:%d: %w", op,
			src[0], src[1], src[2], src[3],
			dst.Addr[0], dst.Addr[1], dst.Addr[2], dst.Addr[3], dst.Port, err)
	}
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	// Pick the source port at connect time, from the full 4-tuple space.
	_ = unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: src}); err != nil {
		return fail("bind", err)
	}
	// Connect: on loopback it usually completes at once, otherwise wait
	// for writability and read the outcome from SO_ERROR.
	if err := unix.Connect(fd, dst); err != nil {
		if !errors.Is(err, unix.EINPROGRESS) && !errors.Is(err, unix.EINTR) {
			return fail("connect", err)
		}
		if err := waitFD(fd, unix.POLLOUT, deadline); err != nil {
			return fail("connect", err)
		}
		soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soerr != 0 {
			err = unix.Errno(soerr)
		}
		if err != nil {
			return fail("connect", err)
		}
	}
	// Send the message, then read it back and compare.
	for w := 0; w < len(msg); {
		n, err := unix.Write(fd, msg[w:])
		if n > 0 {
			w += n
		}
		switch {
		case err == nil:
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			if err := waitFD(fd, unix.POLLOUT, deadline); err != nil {
				return fail("write", err)
			}
		default:
			return fail("write", err)
		}
	}
	buf := make([]byte, len(msg))
	for r := 0; r < len(msg); {
		n, err := unix.Read(fd, buf[r:])
		switch {
		case err == nil && n == 0:
			return fail("read", errors.New("server closed the connection before echoing"))
		case err == nil:
			r += n
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			if err := waitFD(fd, unix.POLLIN, deadline); err != nil {
				return fail("read", err)
			}
		default:
			return fail("read", err)
		}
	}
	if !bytes.Equal(buf, msg) {
		return fail("verify", errors.New("echo differs from what was sent"))
	}
	return fd, nil
}

// waitFD waits until fd is ready for events or the deadline passes.
func waitFD(fd int, events int16, deadline time.Time) error {
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return errors.New("timed out")
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: events}}
		n, err := unix.Poll(pfd, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
	}
}

// dialNet opens one connection with the standard library from src to dst,
// sends msg and verifies the echo. It is the goroutine engine's dialer.
func dialNet(src [4]byte, dst string, msg []byte, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{
		Timeout:   timeout,
		LocalAddr: &net.TCPAddr{IP: net.IP(src[:])},
	}
	c, err := d.Dial("tcp", dst)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	buf := make([]byte, len(msg))
	if _, err = c.Write(msg); err == nil {
		_, err = readFull(c, buf)
	}
	if err == nil && !bytes.Equal(buf, msg) {
		err = fmt.Errorf("verify %v: echo differs from what was sent", c.LocalAddr())
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

// readFull is io.ReadFull without the interface conversion.
func readFull(c net.Conn, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
