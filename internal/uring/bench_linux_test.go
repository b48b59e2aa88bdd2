//go:build linux

package uring

// Does io_uring pay for the echo path, before anyone integrates it?
//
// BenchmarkPingPong runs conns loopback TCP connections (TCP_NODELAY),
// both ends driven by one goroutine at GOMAXPROCS=1: each client sends 64
// bytes, the server end echoes them, and the client sends again as soon as
// the echo is complete, so conns messages are in flight at all times. One
// op is one round trip (two messages, four socket operations). Reported:
// ns/op (wall time, which here is nearly all CPU time of the one thread),
// cpu-ns/op (the process's user+system time per round trip, which also
// catches work done on other threads: io-wq workers, task work on an idle
// thread), and system calls per round trip.
//
// Variants:
//
//   - epoll: the readiness loop the epoll poller runs, written against
//     x/sys/unix directly: epoll_wait (blocking), then per ready end a read
//     until a short read, and a write. Every fd is added once,
//     edge-triggered.
//   - uring: a multishot receive into a provided buffer ring on every end,
//     sends with IOSQE_CQE_SKIP_SUCCESS (no CQE unless they fail), and one
//     io_uring_enter per loop iteration that submits the iteration's sends
//     and waits for the next completions, blocking in the kernel.
//   - uring-park: the same, but waiting parks the goroutine in the Go
//     runtime's poller on the ring fd (Options.Park).
//   - uring-coop: uring with COOP_TASKRUN|TASKRUN_FLAG (Options.CoopTaskrun).
//   - uring-defer: the same as uring on a locked thread with
//     SINGLE_ISSUER|DEFER_TASKRUN (Options.SingleIssuer).
//   - uring-fixed: uring with every socket in the registered file table.
//   - uring-defer-fixed: uring-defer with the registered file table, the
//     setup smolnet's completion path would use if fixed files paid.
//   - uring-zc: uring with zero-copy sends from a registered buffer.
//
// Run: go test -run '^$' -bench . -count 5 ./internal/uring
//
// # Results
//
// Five runs of that command on this machine (2-core AMD EPYC VM, Linux
// 6.18, Go 1.26), medians of 5 each; the last run had every variant. The
// machine was shared with other builds and tests at the time (load average
// 3 to 12 on 2 cores), which inflates wall time (ns/op) by up to 3x and
// unevenly, so the figure shown is CPU time per round trip in µs: the last
// run's median, and in brackets the range of the medians of the runs that
// had the variant.
//
//	variant            1 conn             16 conns           256 conns
//	epoll              18.4 [17.5-22.0]   13.5 [13.3-19.7]   19.5 [15.2-22.0]
//	uring              28.6 [17.0-33.3]    5.9 [5.9-12.2]     7.5 [5.5-7.5]
//	uring-locked       11.3 [11.2-11.3]    5.3 [5.3-6.0]      7.8 [5.1-7.8]
//	uring-park         19.2 [19.2-31.1]    5.5 [5.5-16.5]     5.9 [5.0-8.1]
//	uring-coop         20.1 [17.3-28.9]    6.7 [6.3-15.4]     7.6 [5.5-10.0]
//	uring-defer        11.5 [10.4-15.4]    5.8 [4.9-6.7]      7.2 [5.2-8.8]
//	uring-defer-park   11.2 [11.2-11.5]    4.7 [4.7-6.6]      8.0 [5.2-8.0]
//	uring-fixed        16.1 [16.1-27.1]    6.6 [5.5-8.4]      6.3 [6.0-8.6]
//	uring-zc           20.3 [20.3-54.5]    7.2 [7.2-9.1]      8.6 [6.8-16.9]
//
//	system calls per round trip: epoll 6 / 4.1 / 4.0 (1 / 16 / 256 conns);
//	io_uring enters 2 / 0.13 / 0.009 (DEFER_TASKRUN 0.05 at 256: its wait
//	returns as soon as one completion is ready). No variant allocates.
//	BenchmarkSyscall (raw getppid): 1.3 µs of CPU [1.3-1.5]. System calls
//	are expensive on this VM, which magnifies what batching saves.
//
// Read:
//
//   - With 16 or more connections in flight, io_uring costs 2 to 3x less
//     CPU per round trip than epoll here, in every variant.
//   - With one connection, io_uring wins only when every submission comes
//     from one thread (uring-locked, uring-defer: 11 µs against 18). The
//     plain uring and uring-park loops are bimodal, 17 to 33 µs: the kernel
//     runs a request's completion work (for a receive, the copy once data
//     has arrived) on the thread that submitted it, for a multishot
//     request the thread that armed it, for its whole life. When the Go
//     scheduler moves the loop's goroutine to another thread, every
//     completion has to wake the old, idle thread first.
//   - COOP_TASKRUN does not help, and delays completions whose thread is
//     busy (see Options.CoopTaskrun). Registered files show no gain beyond
//     noise. Zero-copy sends of 64 bytes cost more than copying (a second
//     CQE per send, page pinning), up to 2x.
//
// BenchmarkWake, µs per round trip, same format:
//
//	                     msgring                eventfd
//	procs=1 enter        376 [290-1219]         352 [289-561]
//	procs=2 enter        108 [72-108]           112 [68-112]
//	procs=1 park         14.3 [4.1-19.1]        14.9 [4.8-16.3]
//	procs=2 park         8.5 [8.5-11.6]         33.3 [22.3-33.3]
//	procs=1 defer-park   52 [52-232]            (not offered)
//	procs=2 defer-park   88                     (not offered)
//
// Read: a goroutine blocked in io_uring_enter holds its P, so at
// GOMAXPROCS=1 the waker cannot even run until the runtime's monitor takes
// the P back (hundreds of µs); parked, the round trip is a few µs. With two
// Ps, MSG_RING wakes a parked owner 3-4x faster than the eventfd, whose
// wake-up is completion work that must run on the thread that armed the
// poll; hence MSG_RING is Notify's default. A parked owner locked to its
// thread (defer-park) costs 50-230 µs per wake-up: the runtime must hand a
// P to that one thread, which is the price of the fast loop above.

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const msgSize = 64

var pingConns = []int{1, 16, 256}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pairs makes conns connections; ends[2i] is connection i's client end
// and ends[2i+1] its server end.
func pairs(b *testing.B, conns int) []int {
	ends := make([]int, 0, 2*conns)
	for i := 0; i < conns; i++ {
		c, s := tcpPair(b)
		ends = append(ends, c, s)
	}
	return ends
}

func BenchmarkPingPong(b *testing.B) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, conns := range pingConns {
		b.Run(fmt.Sprintf("conns=%d/epoll", conns), func(b *testing.B) { pingEpoll(b, conns) })
		for _, v := range []string{"uring", "uring-locked", "uring-park", "uring-coop", "uring-defer", "uring-defer-park", "uring-fixed", "uring-defer-fixed", "uring-zc"} {
			b.Run(fmt.Sprintf("conns=%d/%s", conns, v), func(b *testing.B) {
				if v == "uring-locked" || strings.HasPrefix(v, "uring-defer") {
					// The ring is bound to the thread that creates it.
					runtime.LockOSThread()
					defer runtime.UnlockOSThread()
				}
				pingURing(b, conns, v)
			})
		}
	}
}

// report adds the per-round-trip metrics.
func report(b *testing.B, cpu time.Duration, metrics map[string]uint64) {
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	for k, v := range metrics {
		b.ReportMetric(float64(v)/float64(b.N), k)
	}
}

func pingEpoll(b *testing.B, conns int) {
	b.ReportAllocs()
	ends := pairs(b, conns)
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	must(b, err)
	defer unix.Close(ep)
	for i, fd := range ends {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(i)}
		must(b, unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev))
	}
	msg := make([]byte, msgSize)
	buf := make([]byte, 4096)
	got := make([]int, len(ends)) // bytes of the current echo a client end has
	events := make([]unix.EpollEvent, 256)
	var waits, reads, writes uint64
	started, done := 0, 0
	send := func(fd int, p []byte) {
		writes++
		if n, err := unix.Write(fd, p); err != nil || n != len(p) {
			b.Fatalf("write: %d, %v", n, err)
		}
	}

	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < conns && started < b.N; i++ {
		send(ends[2*i], msg)
		started++
	}
	for done < b.N {
		waits++
		n, err := unix.EpollWait(ep, events, -1)
		if err == unix.EINTR {
			continue
		}
		must(b, err)
		for _, ev := range events[:n] {
			k := int(ev.Fd)
			fd := ends[k]
			// Read until a short read: the stream is drained.
			for {
				reads++
				m, err := unix.Read(fd, buf)
				if err == unix.EAGAIN {
					break
				}
				if err != nil || m == 0 {
					b.Fatalf("read: %d, %v", m, err)
				}
				if k%2 == 1 {
					send(fd, buf[:m]) // server end: echo
				} else if got[k] += m; got[k] >= msgSize {
					got[k] -= msgSize
					done++
					if started < b.N {
						send(fd, msg)
						started++
					}
				}
				if m < len(buf) {
					break
				}
			}
		}
	}
	report(b, cpuTime()-cpu0, map[string]uint64{
		"syscalls/op": waits + reads + writes, "waits/op": waits,
	})
}

// User data of the ping-pong's requests: the end's index, with a tag.
const (
	udRecv = 1 << 32
	udSend = 2 << 32
)

func pingURing(b *testing.B, conns int, variant string) {
	requireURing(b)
	b.ReportAllocs()
	ends := pairs(b, conns)
	r, err := New(Options{
		Entries:      uint32(max(64, 2*len(ends))),
		Park:         variant == "uring-park" || variant == "uring-defer-park",
		SingleIssuer: strings.HasPrefix(variant, "uring-defer"),
		CoopTaskrun:  variant == "uring-coop",
	})
	must(b, err)
	defer r.Close()
	if strings.HasPrefix(variant, "uring-defer") && r.SetupFlags()&setupDeferTaskrun == 0 {
		b.Skip("kernel refused DEFER_TASKRUN")
	}
	// One buffer per end in use at a time, plus slack: an end has at most
	// one message in flight, and buffers are recycled as soon as they are
	// consumed.
	nbuf := 64
	for nbuf < 2*len(ends) {
		nbuf *= 2
	}
	br, err := r.NewBufRing(0, nbuf, 2048)
	must(b, err)

	// fd returns how requests name end k: its fd, or its registered slot.
	fixed := variant == "uring-fixed" || variant == "uring-defer-fixed"
	sqeFlags := uint8(SQECQESkipSuccess)
	fdOf := func(k int) int { return ends[k] }
	if fixed {
		must(b, r.RegisterFiles(uint32(len(ends))))
		fds := make([]int32, len(ends))
		for i, fd := range ends {
			fds[i] = int32(fd)
		}
		must(b, r.UpdateFiles(0, fds))
		fdOf = func(k int) int { return k }
		sqeFlags |= SQEFixedFile
	}

	// Send buffers: one per end, stable for the life of the benchmark.
	// Zero-copy sends use one registered buffer split per end.
	zc := variant == "uring-zc"
	if zc {
		// Zero-copy sends refuse IOSQE_CQE_SKIP_SUCCESS (EINVAL): each send
		// posts its result and its notification.
		sqeFlags &^= SQECQESkipSuccess
	}
	sendMem, err := mmapAnon(len(ends) * msgSize)
	must(b, err)
	defer unix.Munmap(sendMem)
	if zc {
		must(b, r.RegisterBuffers([][]byte{sendMem}))
	}
	sendBuf := func(k int) []byte { return sendMem[k*msgSize : (k+1)*msgSize] }

	send := func(k int, n int) {
		s, err := r.GetSQE()
		must(b, err)
		if zc {
			PrepSendZCFixed(s, fdOf(k), sendBuf(k)[:n], 0, unix.MSG_NOSIGNAL, udSend|uint64(k))
		} else {
			PrepSend(s, fdOf(k), sendBuf(k)[:n], unix.MSG_NOSIGNAL, udSend|uint64(k))
		}
		s.Flags |= sqeFlags
	}
	arm := func(k int) {
		s, err := r.GetSQE()
		must(b, err)
		PrepRecvMultishot(s, fdOf(k), br.Group(), udRecv|uint64(k))
		if fixed {
			s.Flags |= SQEFixedFile
		}
	}
	for k := range ends {
		arm(k)
	}
	_, err = r.Submit()
	must(b, err)

	got := make([]int, len(ends))
	cqes := make([]CQE, 512)
	started, done := 0, 0
	var notifs uint64
	b.ResetTimer()
	r.Stats = Stats{}
	cpu0 := cpuTime()
	for i := 0; i < conns && started < b.N; i++ {
		send(2*i, msgSize)
		started++
	}
	for done < b.N {
		if _, err := r.SubmitAndWait(-1); err != nil && !isTransient(err) {
			b.Fatal(err)
		}
		n := r.Reap(cqes)
		for i := range cqes[:n] {
			c := &cqes[i]
			k := int(uint32(c.UserData))
			if c.UserData&udSend != 0 {
				// Only failures, and zero-copy sends' two CQEs, come here.
				if c.Res < 0 {
					b.Fatalf("send: %v", c.Err())
				}
				notifs++
				continue
			}
			if c.Res < 0 && c.Res != -int32(unix.ENOBUFS) {
				b.Fatalf("recv on end %d: %v", k, c.Err())
			}
			if c.Res == 0 {
				b.Fatalf("recv on end %d: end of stream", k)
			}
			if id, ok := c.BufferID(); ok {
				m := int(c.Res)
				if k%2 == 1 {
					// Server end: echo, through the end's send buffer.
					copy(sendBuf(k), br.Bytes(id, m))
					br.Recycle(id)
					send(k, m)
				} else {
					br.Recycle(id)
					if got[k] += m; got[k] >= msgSize {
						got[k] -= msgSize
						done++
						if started < b.N {
							send(k, msgSize)
							started++
						}
					}
				}
			}
			if !c.More() {
				arm(k) // ENOBUFS, or the kernel ended it: re-arm
			}
		}
	}
	cpu := cpuTime() - cpu0
	b.StopTimer()
	report(b, cpu, map[string]uint64{
		"syscalls/op": r.Stats.Enters, "parks/op": r.Stats.Parks,
	})
	_ = notifs
}

// BenchmarkWake measures a cross-goroutine wake-up of an owner blocked in
// a wait, both ways Notify can send it: IORING_OP_MSG_RING from the
// notifier ring (the default), and the eventfd armed on the ring as a
// multishot poll (Options.EventfdWake). One op is a round trip: the waker
// calls Notify, the owner wakes, reaps and answers on a Go channel, and
// the waker waits for the answer. Both wait modes (blocking enter, park)
// run at GOMAXPROCS 1 and 2.
func BenchmarkWake(b *testing.B) {
	for _, procs := range []int{1, 2} {
		for _, mode := range []string{"enter", "park", "defer-park"} {
			for _, eventfd := range []bool{false, true} {
				if eventfd && mode == "defer-park" {
					continue // such a ring always wakes by MSG_RING (initWake)
				}
				how := map[bool]string{false: "msgring", true: "eventfd"}[eventfd]
				b.Run(fmt.Sprintf("procs=%d/%s/%s", procs, mode, how), func(b *testing.B) {
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
					wakeRoundTrip(b, Options{Park: mode != "enter", SingleIssuer: mode == "defer-park", EventfdWake: eventfd})
				})
			}
		}
	}
}

func wakeRoundTrip(b *testing.B, o Options) {
	requireURing(b)
	b.ReportAllocs()
	ready := make(chan *Ring)
	ack := make(chan struct{})
	stop := make(chan struct{})
	owner := make(chan error)
	go func() {
		// The owner creates the ring: a SingleIssuer ring is bound to the
		// thread that creates it.
		if o.SingleIssuer {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		r, err := New(o)
		if err != nil {
			owner <- err
			return
		}
		defer r.Close()
		ready <- r
		cqes := make([]CQE, 16)
		wakes := r.Stats.Wakes
		for {
			if _, err := r.SubmitAndWait(-1); err != nil {
				owner <- err
				return
			}
			r.Reap(cqes)
			if r.Stats.Wakes == wakes {
				continue
			}
			wakes = r.Stats.Wakes
			select {
			case ack <- struct{}{}:
			case <-stop:
				owner <- nil
				return
			}
		}
	}()
	var r *Ring
	select {
	case r = <-ready:
	case err := <-owner:
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		must(b, r.Notify())
		<-ack
	}
	b.StopTimer()
	close(stop)
	r.Notify()
	must(b, <-owner)
}

// BenchmarkSyscall is the anchor for the numbers above: the cost of the
// cheapest system call (getppid, raw) on this machine in the same run.
// Everything io_uring saves here is system calls, so its advantage scales
// with this figure, which varies a lot between machines and days (and with
// the kernel's speculative-execution mitigations).
func BenchmarkSyscall(b *testing.B) {
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		unix.RawSyscall(unix.SYS_GETPPID, 0, 0, 0)
	}
	report(b, cpuTime()-cpu0, nil)
}
