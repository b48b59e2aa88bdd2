package main

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// dialAll opens n non-blocking TCP connections to dst with up to workers
// connects in flight, connection i from source address 127.0.0.<1 +
// i%sources>, and returns their descriptors. Bounding the connects in
// flight keeps the server's accept backlog from overflowing; spreading the
// sources keeps each address well inside the ephemeral port range. On an
// error it closes what it opened.
func dialAll(n, workers, sources int, dst *unix.SockaddrInet4, timeout time.Duration) ([]int, error) {
	fds := make([]int, n)
	for i := range fds {
		fds[i] = -1
	}
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fd, err := dial([4]byte{127, 0, 0, byte(1 + i%sources)}, dst, timeout)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("conn %d: %w", i, err)
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the other workers
					return
				}
				fds[i] = fd
			}
		}()
	}
	wg.Wait()
	if first != nil {
		for _, fd := range fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
		return nil, first
	}
	return fds, nil
}

// dial opens one non-blocking TCP connection from src to dst with raw
// system calls, so that it is not registered with Go's network poller and
// the engine can put it in its own epoll instance.
func dial(src [4]byte, dst *unix.SockaddrInet4, timeout time.Duration) (int, error) {
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
	// Connect fills in the raw form of the address it is given: a copy
	// per call, as the workers share dst.
	to := *dst
	if err := unix.Connect(fd, &to); err != nil {
		if !errors.Is(err, unix.EINPROGRESS) && !errors.Is(err, unix.EINTR) {
			return fail("connect", err)
		}
		// Wait for the outcome, then read it from SO_ERROR.
		deadline := time.Now().Add(timeout)
		for {
			ms := int(time.Until(deadline) / time.Millisecond)
			if ms <= 0 {
				return fail("connect", errors.New("timed out"))
			}
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			n, err := unix.Poll(pfd, ms)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return fail("connect: poll", err)
			}
			if n > 0 {
				break
			}
		}
		soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err == nil && soerr != 0 {
			err = unix.Errno(soerr)
		}
		if err != nil {
			return fail("connect", err)
		}
	}
	return fd, nil
}
