//go:build linux

package uring

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestABILayout checks the Go structures against the kernel's sizes and
// offsets (include/uapi/linux/io_uring.h).
func TestABILayout(t *testing.T) {
	var s SQE
	var p params
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof sqe", unsafe.Sizeof(s), 64},
		{"sqe.fd", unsafe.Offsetof(s.Fd), 4},
		{"sqe.off", unsafe.Offsetof(s.Off), 8},
		{"sqe.addr", unsafe.Offsetof(s.Addr), 16},
		{"sqe.len", unsafe.Offsetof(s.Len), 24},
		{"sqe.op_flags", unsafe.Offsetof(s.OpFlags), 28},
		{"sqe.user_data", unsafe.Offsetof(s.UserData), 32},
		{"sqe.buf_index", unsafe.Offsetof(s.BufIndex), 40},
		{"sqe.file_index", unsafe.Offsetof(s.FileIndex), 44},
		{"sqe.addr3", unsafe.Offsetof(s.Addr3), 48},
		{"sizeof cqe", unsafe.Sizeof(CQE{}), 16},
		{"sizeof params", unsafe.Sizeof(p), 120},
		{"params.sq_off", unsafe.Offsetof(p.sqOff), 40},
		{"params.cq_off", unsafe.Offsetof(p.cqOff), 80},
		{"sizeof getevents_arg", unsafe.Sizeof(getEventsArg{}), 24},
		{"sizeof probe_op", unsafe.Sizeof(probeOp{}), 8},
		{"probe.ops", unsafe.Offsetof(probe{}.ops), 16},
		{"sizeof rsrc_register", unsafe.Sizeof(rsrcRegister{}), 32},
		{"sizeof rsrc_update", unsafe.Sizeof(rsrcUpdate{}), 16},
		{"sizeof buf_reg", unsafe.Sizeof(bufReg{}), 40},
		{"sizeof io_uring_buf", unsafe.Sizeof(ringBuf{}), 16},
		{"io_uring_buf.bid", unsafe.Offsetof(ringBuf{}.bid), 12},
		{"sizeof sync_cancel_reg", unsafe.Sizeof(syncCancelReg{}), 64},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
}

// TestSetupClose creates and closes rings with each option set, checks
// what the kernel accepted, that Close releases every fd, and that a
// closed ring refuses work.
func TestSetupClose(t *testing.T) {
	requireURing(t)
	checkFds(t)
	for _, o := range []Options{{}, {Entries: 1, CQEntries: 1}, {Entries: 4096}, {Park: true}, {CoopTaskrun: true}, {EventfdWake: true}} {
		before := len(openFds(t))
		r, err := New(o)
		must(t, err)
		// The ring fd and the notifier ring's fd, or the eventfd.
		if got := len(openFds(t)) - before; got != 2 {
			t.Errorf("%+v: New opened %d fds, want 2", o, got)
		}
		if r.SQEntries() == 0 || r.CQEntries() < r.SQEntries() || r.SQEntries()&(r.SQEntries()-1) != 0 {
			t.Errorf("%+v: queue sizes sq %d cq %d", o, r.SQEntries(), r.CQEntries())
		}
		if r.Features()&featSingleMmap == 0 {
			t.Logf("%+v: no IORING_FEAT_SINGLE_MMAP: two ring mappings", o)
		}
		t.Logf("%+v: setup flags %#x, sq %d, cq %d, wake-up by %s", o, r.SetupFlags(), r.SQEntries(), r.CQEntries(), r.WakeMethod())
		if want := map[bool]string{false: "msg_ring", true: "eventfd"}[o.EventfdWake]; r.WakeMethod() != want {
			t.Errorf("%+v: wake-up by %s, want %s", o, r.WakeMethod(), want)
		}
		must(t, r.Close())
		if err := r.Close(); err != ErrClosed {
			t.Errorf("second Close: %v, want ErrClosed", err)
		}
		if _, err := r.SubmitAndWait(time.Second); err != ErrClosed {
			t.Errorf("SubmitAndWait after Close: %v", err)
		}
		if err := r.Notify(); err != ErrClosed {
			t.Errorf("Notify after Close: %v", err)
		}
	}
}

// TestSingleIssuer runs rings with SINGLE_ISSUER|DEFER_TASKRUN on a locked
// thread, blocking and parked, with either wake-up asked for.
func TestSingleIssuer(t *testing.T) {
	requireURing(t)
	checkFds(t)
	for _, o := range []Options{{}, {Park: true}, {EventfdWake: true}, {Park: true, EventfdWake: true}} {
		o.SingleIssuer = true
		if err := singleIssuer(t, o); err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
	}
}

// singleIssuer runs a SingleIssuer ring on a locked thread: a no-op round
// trip, a wait woken by Notify from another goroutine (which must not wait
// for the wait's timeout: a parked DEFER_TASKRUN ring loses eventfd
// wake-ups, see initWake), and a receive completing during a wait.
func singleIssuer(t *testing.T, o Options) error {
	park := o.Park
	done := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		done <- func() error {
			r, err := New(o)
			if err != nil {
				return err
			}
			defer r.Close()
			if r.SetupFlags()&setupDeferTaskrun == 0 {
				t.Logf("kernel refused DEFER_TASKRUN: flags %#x", r.SetupFlags())
			}
			s, _ := r.GetSQE()
			PrepNop(s, 1)
			c := collect(t, r, 1, 5*time.Second)
			if c[0].UserData != 1 {
				return errors.New("wrong user data")
			}
			for round := 0; round < 3; round++ {
				go func() {
					time.Sleep(5 * time.Millisecond)
					r.Notify()
				}()
				t0 := time.Now()
				wakes := r.Stats.Wakes
				for r.Stats.Wakes == wakes && time.Since(t0) < 5*time.Second {
					r.SubmitAndWait(5 * time.Second)
					r.Reap(c)
				}
				if d := time.Since(t0); r.Stats.Wakes == wakes || d > 4*time.Second {
					return fmt.Errorf("round %d: Notify did not wake the wait (%v, wake-up by %s)", round, d, r.WakeMethod())
				}
				if d := time.Since(t0); d < 4*time.Millisecond {
					return fmt.Errorf("round %d: wait returned after %v, before the Notify", round, d)
				}
			}
			if park && (r.Stats.Parks == 0 || !r.parkEventfd) {
				return fmt.Errorf("no parked wait: %+v", r.Stats)
			}
			// A receive completes while parked: its completion work is
			// queued on the ring and must wake the parked wait.
			br, err := r.NewBufRing(1, 4, 64)
			if err != nil {
				return err
			}
			cl, sv := tcpPair(t)
			PrepRecvMultishot(sqe(t, r), sv, br.Group(), 9)
			r.Submit()
			go func() {
				time.Sleep(5 * time.Millisecond)
				unix.Write(cl, []byte("ping"))
			}()
			got := collect(t, r, 1, 5*time.Second)
			if got[0].UserData != 9 || got[0].Res != 4 {
				return fmt.Errorf("receive: %+v", got[0])
			}
			return nil
		}()
	}()
	return <-done
}

// TestNopRoundTrip submits more no-ops than the SQ holds, so GetSQE has to
// submit by itself, and checks every completion arrives once with its user
// data.
func TestNopRoundTrip(t *testing.T) {
	checkFds(t)
	for _, park := range []bool{false, true} {
		r := newRing(t, Options{Entries: 8, CQEntries: 4096, Park: park})
		const n = 1000
		for i := 0; i < n; i++ {
			PrepNop(sqe(t, r), uint64(i))
		}
		seen := make([]bool, n)
		for _, c := range collect(t, r, n, 5*time.Second) {
			if c.Res != 0 || c.UserData >= n || seen[c.UserData] {
				t.Fatalf("park=%v: bad completion %+v", park, c)
			}
			seen[c.UserData] = true
		}
		if r.Stats.Enters > n/8+4 {
			t.Errorf("park=%v: %d enters for %d no-ops in an 8-entry SQ", park, r.Stats.Enters, n)
		}
	}
}

// TestAcceptMultishot accepts many connections with one SQE, then cancels
// the accept and sees it end.
func TestAcceptMultishot(t *testing.T) {
	checkFds(t)
	for _, park := range []bool{false, true} {
		r := newRing(t, Options{Park: park})
		ln, sa := listener(t, 512)
		PrepAcceptMultishot(sqe(t, r), ln, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 1)
		must(t, submit(r))

		const n = 300
		var clients []int
		for i := 0; i < n; i++ {
			c, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			must(t, err)
			clients = append(clients, c)
			must(t, unix.Connect(c, sa))
		}
		accepted := collect(t, r, n, 10*time.Second)
		for _, c := range accepted {
			if c.UserData != 1 || c.Res < 0 || !c.More() {
				t.Fatalf("park=%v: accept completion %+v (%v)", park, c, c.Err())
			}
			if fl, err := unix.FcntlInt(uintptr(c.Res), unix.F_GETFL, 0); err != nil || fl&unix.O_NONBLOCK == 0 {
				t.Errorf("accepted fd %d: flags %#x, %v", c.Res, fl, err)
			}
			unix.Close(int(c.Res))
		}
		for _, c := range clients {
			unix.Close(c)
		}

		// Cancel: the cancel's own CQE and the accept's last one, without
		// CQEFMore.
		PrepCancel(sqe(t, r), 1, false, 2)
		var gotCancel, gotEnd bool
		for _, c := range collect(t, r, 2, 5*time.Second) {
			switch {
			case c.UserData == 2 && c.Res == 0:
				gotCancel = true
			case c.UserData == 1 && c.Res == -int32(unix.ECANCELED) && !c.More():
				gotEnd = true
			default:
				t.Errorf("park=%v: unexpected %+v", park, c)
			}
		}
		if !gotCancel || !gotEnd {
			t.Errorf("park=%v: cancel %v, accept ended %v", park, gotCancel, gotEnd)
		}
	}
}

// submit submits without waiting.
func submit(r *Ring) error {
	_, err := r.Submit()
	return err
}

// TestRecvMultishotBufferExhaustion receives into a 4-buffer group until it
// runs dry (the request ends with ENOBUFS), recycles the buffers, re-arms,
// and gets the rest of the stream, byte for byte. Buffers go back only when
// the request has ended, like a reader that holds on to its data, so the
// 192-byte stream exhausts the 64 bytes of buffers twice.
func TestRecvMultishotBufferExhaustion(t *testing.T) {
	checkFds(t)
	r := newRing(t, Options{})
	const nbuf, size = 4, 16
	br, err := r.NewBufRing(7, nbuf, size)
	must(t, err)
	c, s := tcpPair(t)

	msg := make([]byte, 3*nbuf*size)
	for i := range msg {
		msg[i] = byte(i)
	}
	PrepRecvMultishot(sqe(t, r), s, br.Group(), 42)
	must(t, submit(r))
	if _, err := unix.Write(c, msg); err != nil {
		t.Fatal(err)
	}

	var got []byte
	var lent []uint16
	rearms, enobufs := 0, 0
	buf := make([]CQE, 16)
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < len(msg) {
		if time.Now().After(deadline) {
			t.Fatalf("got %d of %d bytes; %d ENOBUFS, %d re-arms", len(got), len(msg), enobufs, rearms)
		}
		_, err := r.SubmitAndWait(time.Second)
		must(t, err)
		for _, cq := range buf[:r.Reap(buf)] {
			if cq.UserData != 42 {
				t.Fatalf("unexpected %+v", cq)
			}
			if id, ok := cq.BufferID(); ok && cq.Res > 0 {
				got = append(got, br.Bytes(id, int(cq.Res))...)
				lent = append(lent, id)
			}
			switch {
			case cq.Res == -int32(unix.ENOBUFS):
				enobufs++
				if len(lent) != nbuf {
					t.Fatalf("ENOBUFS with %d of %d buffers lent", len(lent), nbuf)
				}
			case cq.Res < 0:
				t.Fatalf("recv: %v", cq.Err())
			case cq.Res == 0:
				t.Fatal("unexpected end of stream")
			}
			if !cq.More() {
				// The request ended: give every buffer back, then re-arm.
				for _, id := range lent {
					br.Add(id)
				}
				br.Publish()
				lent = lent[:0]
				PrepRecvMultishot(sqe(t, r), s, br.Group(), 42)
				rearms++
			}
		}
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("stream corrupted:\n got %v\nwant %v", got, msg)
	}
	if enobufs == 0 {
		t.Fatal("the group never ran out of buffers")
	}
	t.Logf("%d ENOBUFS, %d re-arms", enobufs, rearms)
}

// TestRecvEOF: a multishot receive ends with Res 0 when the peer closes.
func TestRecvEOF(t *testing.T) {
	checkFds(t)
	r := newRing(t, Options{})
	br, err := r.NewBufRing(1, 8, 64)
	must(t, err)
	c, s := tcpPair(t)
	PrepRecvMultishot(sqe(t, r), s, br.Group(), 9)
	must(t, submit(r))
	unix.Write(c, []byte("bye"))
	unix.Shutdown(c, unix.SHUT_WR)
	var data []byte
	for done := false; !done; {
		for _, cq := range collect(t, r, 1, 5*time.Second) {
			if id, ok := cq.BufferID(); ok && cq.Res > 0 {
				data = append(data, br.Bytes(id, int(cq.Res))...)
				br.Recycle(id)
			}
			if cq.Res == 0 {
				if cq.More() {
					t.Fatal("EOF with CQEFMore")
				}
				done = true
			}
		}
	}
	if string(data) != "bye" {
		t.Fatalf("got %q", data)
	}
}

// TestSend sends with a plain buffer and, where the kernel allows it, from
// a registered buffer, and reads the bytes at the peer.
func TestSend(t *testing.T) {
	checkFds(t)
	r := newRing(t, Options{})
	c, s := tcpPair(t)
	msg := []byte("hello, ring")
	PrepSend(sqe(t, r), s, msg, unix.MSG_NOSIGNAL, 5)
	cq := collect(t, r, 1, 5*time.Second)[0]
	if cq.UserData != 5 || int(cq.Res) != len(msg) {
		t.Fatalf("send: %+v (%v)", cq, cq.Err())
	}
	runtime.KeepAlive(msg)
	if got := readAll(t, c, len(msg), 5*time.Second); !bytes.Equal(got, msg) {
		t.Fatalf("peer read %q", got)
	}

}

// TestSendRegisteredBuffer sends from a registered buffer: zero-copy sends
// take it (a result CQE with CQEFMore, then the notification), plain sends
// refuse it with EINVAL on this kernel, which the documentation of
// PrepSendZCFixed relies on.
func TestSendRegisteredBuffer(t *testing.T) {
	checkFds(t)
	r := newRing(t, Options{})
	c, s := tcpPair(t)
	fixed, err := mmapAnon(4096)
	must(t, err)
	defer unix.Munmap(fixed)
	must(t, r.RegisterBuffers([][]byte{fixed}))
	msg := []byte("registered")
	copy(fixed[100:], msg)
	PrepSendZCFixed(sqe(t, r), s, fixed[100:100+len(msg)], 0, unix.MSG_NOSIGNAL, 6)
	var sent, notified bool
	for _, cq := range collect(t, r, 2, 5*time.Second) {
		switch {
		case cq.Flags&CQEFNotif != 0:
			notified = true
		case int(cq.Res) == len(msg) && cq.More():
			sent = true
		default:
			t.Fatalf("zero-copy send: %+v (%v)", cq, cq.Err())
		}
	}
	if !sent || !notified {
		t.Fatalf("sent %v, notified %v", sent, notified)
	}
	if got := readAll(t, c, len(msg), 5*time.Second); !bytes.Equal(got, msg) {
		t.Fatalf("peer read %q", got)
	}

	q := sqe(t, r)
	PrepSend(q, s, fixed[100:100+len(msg)], unix.MSG_NOSIGNAL, 7)
	q.Ioprio |= recvsendFixedBuf
	if cq := collect(t, r, 1, 5*time.Second)[0]; cq.Res != -int32(unix.EINVAL) {
		t.Logf("a plain send from a registered buffer gave %+v: this kernel accepts it; PrepSendZCFixed's doc is out of date", cq)
		if cq.Res > 0 {
			readAll(t, c, int(cq.Res), 5*time.Second)
		}
	}
	must(t, r.UnregisterBuffers())
}

// TestFixedFiles sends through a registered file slot.
func TestFixedFiles(t *testing.T) {
	checkFds(t)
	r := newRing(t, Options{})
	c, s := tcpPair(t)
	must(t, r.RegisterFiles(16))
	must(t, r.UpdateFiles(3, []int32{int32(s)}))
	msg := []byte("fixed")
	q := sqe(t, r)
	PrepSend(q, 3, msg, unix.MSG_NOSIGNAL, 1)
	q.Flags |= SQEFixedFile
	if cq := collect(t, r, 1, 5*time.Second)[0]; int(cq.Res) != len(msg) {
		t.Fatalf("fixed-file send: %+v (%v)", cq, cq.Err())
	}
	if got := readAll(t, c, len(msg), 5*time.Second); !bytes.Equal(got, msg) {
		t.Fatalf("peer read %q", got)
	}
	// Clear the slot through the ring, batched like a reactor would.
	fds := []int32{-1}
	PrepFilesUpdate(sqe(t, r), fds, 3, 2)
	if cq := collect(t, r, 1, 5*time.Second)[0]; cq.Res != 1 {
		t.Fatalf("files update: %+v (%v)", cq, cq.Err())
	}
	runtime.KeepAlive(fds)
	must(t, r.UnregisterFiles())
}

// TestCancelPendingMultishot cancels a multishot receive that has nothing
// to receive, by user data and by fd.
func TestCancelPendingMultishot(t *testing.T) {
	checkFds(t)
	r := newRing(t, Options{})
	br, err := r.NewBufRing(2, 4, 64)
	must(t, err)
	_, s := tcpPair(t)
	for _, byFd := range []bool{false, true} {
		PrepRecvMultishot(sqe(t, r), s, br.Group(), 10)
		must(t, submit(r))
		if byFd {
			PrepCancelFd(sqe(t, r), s, 11)
		} else {
			PrepCancel(sqe(t, r), 10, false, 11)
		}
		var ended, cancelled bool
		for _, c := range collect(t, r, 2, 5*time.Second) {
			switch {
			case c.UserData == 10 && c.Res == -int32(unix.ECANCELED) && !c.More():
				ended = true
			case c.UserData == 11 && c.Res >= 0:
				cancelled = true
			default:
				t.Fatalf("byFd=%v: unexpected %+v (%v)", byFd, c, c.Err())
			}
		}
		if !ended || !cancelled {
			t.Fatalf("byFd=%v: ended %v, cancel ok %v", byFd, ended, cancelled)
		}
	}
	// Nothing left to cancel.
	PrepCancel(sqe(t, r), 10, false, 12)
	if c := collect(t, r, 1, 5*time.Second)[0]; c.Res != -int32(unix.ENOENT) {
		t.Fatalf("cancel of nothing: %+v", c)
	}
}

// TestCloseWithOpsInFlight closes a ring with a multishot accept, a
// multishot receive into a buffer ring, a poll, a timeout and a send to a
// full socket all pending, then checks the sockets still work and no fd
// leaked.
func TestCloseWithOpsInFlight(t *testing.T) {
	requireURing(t)
	checkFds(t)
	for _, park := range []bool{false, true} {
		r, err := New(Options{Park: park})
		must(t, err)
		br, err := r.NewBufRing(3, 8, 64)
		must(t, err)
		ln, _ := listener(t, 16)
		c, s := tcpPair(t)
		pr, pw, err := os.Pipe()
		must(t, err)

		PrepAcceptMultishot(sqe(t, r), ln, unix.SOCK_CLOEXEC, 1)
		PrepRecvMultishot(sqe(t, r), s, br.Group(), 2)
		PrepPollMultishot(sqe(t, r), int(pr.Fd()), unix.POLLIN, 3)
		ts := unix.NsecToTimespec(int64(time.Hour))
		PrepTimeout(sqe(t, r), &ts, 0, 4)
		// Fill c's send buffer so that a send parks in the kernel.
		big := make([]byte, 1<<20)
		for {
			if _, err := unix.Write(c, big); err != nil {
				if err != unix.EAGAIN {
					t.Fatal(err)
				}
				break
			}
		}
		PrepSend(sqe(t, r), c, big, unix.MSG_NOSIGNAL, 5)
		must(t, submit(r))
		// Let the kernel arm everything, and a goroutine park on the ring.
		if park {
			go r.Notify()
		}
		r.SubmitAndWait(10 * time.Millisecond)
		must(t, r.Close())
		runtime.KeepAlive(big)

		// The caller's fds are intact: the server end still reads.
		buf := make([]byte, 1<<16)
		if _, err := unix.Read(s, buf); err != nil && err != unix.EAGAIN {
			t.Fatalf("park=%v: read after Close: %v", park, err)
		}
		pr.Close()
		pw.Close()
	}
}

// TestEINTR sends the Go runtime's preemption signal to a thread blocked
// in io_uring_enter and checks that the wait returns without an error and
// is counted, and that waiting again works.
func TestEINTR(t *testing.T) {
	checkFds(t)
	r := newRing(t, Options{})
	tid := make(chan int)
	res := make(chan time.Duration)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		tid <- unix.Gettid()
		t0 := time.Now()
		for r.Stats.EINTR == 0 && time.Since(t0) < 5*time.Second {
			if _, err := r.SubmitAndWait(5 * time.Second); err != nil {
				t.Error(err)
			}
		}
		res <- time.Since(t0)
	}()
	id := <-tid
	var elapsed time.Duration
	for done := false; !done; {
		unix.Tgkill(os.Getpid(), id, unix.SIGURG)
		select {
		case elapsed = <-res:
			done = true
		case <-time.After(time.Millisecond):
		}
	}
	if r.Stats.EINTR == 0 {
		t.Fatalf("no EINTR seen in %v", elapsed)
	}
	if elapsed >= 5*time.Second {
		t.Fatalf("interrupted wait took %v", elapsed)
	}
	PrepNop(sqe(t, r), 1)
	collect(t, r, 1, 5*time.Second)
}

// TestEAGAINCompletion: a receive with MSG_DONTWAIT on an empty socket
// completes with -EAGAIN instead of waiting for data.
func TestEAGAINCompletion(t *testing.T) {
	checkFds(t)
	r := newRing(t, Options{})
	_, s := tcpPair(t)
	buf := make([]byte, 64)
	PrepRecv(sqe(t, r), s, buf, unix.MSG_DONTWAIT, 1)
	if c := collect(t, r, 1, 5*time.Second)[0]; c.Res != -int32(unix.EAGAIN) {
		t.Fatalf("got %+v, want -EAGAIN", c)
	}
	runtime.KeepAlive(buf)
}

// TestCQOverflow posts far more completions than the CQ holds without
// reaping, then reaps: none is lost (IORING_FEAT_NODROP), the overflow is
// seen and flushed, submissions refused meanwhile (EBUSY) are retried, and
// the wake-up still works afterwards (the overflow may have ended its
// multishot poll, which must be re-armed).
func TestCQOverflow(t *testing.T) {
	checkFds(t)
	for _, eventfd := range []bool{false, true} {
		t.Run(map[bool]string{false: "msg_ring", true: "eventfd"}[eventfd], func(t *testing.T) {
			cqOverflow(t, newRing(t, Options{Entries: 8, CQEntries: 16, EventfdWake: eventfd}))
		})
	}
}

func cqOverflow(t *testing.T, r *Ring) {
	const n = 500
	buf := make([]CQE, 64)
	seen := make([]bool, n)
	got := 0
	for i := 0; i < n; {
		s, err := r.GetSQE()
		if errors.Is(err, ErrSQFull) {
			// EBUSY: the kernel wants the overflow reaped first.
			for _, c := range buf[:r.Reap(buf)] {
				seen[c.UserData] = true
				got++
			}
			r.Submit()
			continue
		}
		must(t, err)
		PrepNop(s, uint64(i))
		i++
	}
	// A wake-up while the CQ is full: on 6.x the overflow ends the
	// eventfd's multishot poll, which Reap must then re-arm.
	must(t, r.Notify())
	deadline := time.Now().Add(5 * time.Second)
	for got < n && time.Now().Before(deadline) {
		if _, err := r.SubmitAndWait(100 * time.Millisecond); err != nil && !isTransient(err) {
			t.Fatal(err)
		}
		for _, c := range buf[:r.Reap(buf)] {
			if seen[c.UserData] {
				t.Fatalf("completion %d twice", c.UserData)
			}
			seen[c.UserData] = true
			got++
		}
	}
	if got != n {
		t.Fatalf("reaped %d of %d completions", got, n)
	}
	if r.Stats.Overflows == 0 {
		t.Errorf("no overflow seen with %d completions in a %d-entry CQ", n, r.CQEntries())
	}
	t.Logf("stats after overflow: %+v", r.Stats)
	for r.notified.Load() && time.Now().Before(deadline) {
		r.SubmitAndWait(100 * time.Millisecond)
		r.Reap(buf)
	}
	if r.Stats.Wakes == 0 {
		t.Fatal("the wake-up sent during the overflow was lost")
	}
	wakes := r.Stats.Wakes

	// The wake-up still works.
	go func() {
		time.Sleep(time.Millisecond)
		r.Notify()
	}()
	t0 := time.Now()
	for r.Stats.Wakes == wakes {
		if time.Since(t0) > 5*time.Second {
			t.Fatal("Notify after overflow did not wake the ring")
		}
		r.SubmitAndWait(5 * time.Second)
		r.Reap(buf)
	}
}

// TestClose closes a socket through the ring after cancelling the
// multishot receive on it, linked so that the close runs after the
// cancellation whatever its result (IOSQE_IO_HARDLINK).
func TestClose(t *testing.T) {
	checkFds(t)
	r := newRing(t, Options{})
	br, err := r.NewBufRing(4, 4, 64)
	must(t, err)
	c, s := tcpPair(t)
	s2, err := unix.Dup(s)
	must(t, err)
	PrepRecvMultishot(sqe(t, r), s2, br.Group(), 1)
	must(t, submit(r))
	q := sqe(t, r)
	PrepCancelFd(q, s2, 2)
	q.Flags |= SQEIOHardlink
	PrepClose(sqe(t, r), s2, 3)
	got := map[uint64]int32{}
	for _, cq := range collect(t, r, 3, 5*time.Second) {
		got[cq.UserData] = cq.Res
	}
	if got[1] != -int32(unix.ECANCELED) || got[2] < 0 || got[3] != 0 {
		t.Fatalf("recv, cancel, close results: %v", got)
	}
	if _, err := unix.FcntlInt(uintptr(s2), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("fd still open after the ring closed it: %v", err)
	}
	// The socket lives on through s: the peer's data still arrives.
	unix.Write(c, []byte("x"))
	readAll(t, s, 1, 5*time.Second)
}

// TestNotify wakes a blocked wait from many goroutines at once, in both
// wait modes, and checks that the writes are deduplicated.
func TestNotify(t *testing.T) {
	checkFds(t)
	for _, o := range []Options{{}, {Park: true}, {EventfdWake: true}, {EventfdWake: true, Park: true}} {
		r := newRing(t, o)
		buf := make([]CQE, 8)
		const rounds = 50
		for round := 0; round < rounds; round++ {
			var wg sync.WaitGroup
			for g := 0; g < 4; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 10; i++ {
						if err := r.Notify(); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			t0 := time.Now()
			r.SubmitAndWait(5 * time.Second)
			if d := time.Since(t0); d > 2*time.Second {
				t.Fatalf("%+v: wait took %v despite Notify", o, d)
			}
			if n := r.Reap(buf); n != 0 {
				t.Fatalf("%+v: wake-up CQE leaked to the caller: %+v", o, buf[:n])
			}
			wg.Wait()
			// Drain the last wake-up so the next round starts clean.
			for r.notified.Load() {
				r.SubmitAndWait(time.Second)
				r.Reap(buf)
			}
		}
		// Each round's 40 Notifies cost a few sends at most (one per
		// wake-up the owner consumed while they ran): count them.
		var sends uint64
		if r.notifier != nil {
			r.notifyMu.Lock()
			sends = r.notifier.Stats.Enters
			r.notifyMu.Unlock()
		} else {
			var cnt [8]byte
			unix.Read(r.wakeFd, cnt[:])
			sends = *(*uint64)(unsafe.Pointer(&cnt[0]))
		}
		if sends == 0 || sends > rounds*8 {
			t.Errorf("%+v: %d sends for %d rounds of 40 Notifies", o, sends, rounds)
		}
		if r.Stats.Wakes != sends {
			t.Errorf("%+v: %d wake-up CQEs for %d sends", o, r.Stats.Wakes, sends)
		}
	}
}

// TestPollAndTimeout: a multishot poll on a pipe fires per write; a
// timeout fires with -ETIME; a poll removal ends the poll.
func TestPollAndTimeout(t *testing.T) {
	checkFds(t)
	r := newRing(t, Options{})
	pr, pw, err := os.Pipe()
	must(t, err)
	defer pr.Close()
	defer pw.Close()
	PrepPollMultishot(sqe(t, r), int(pr.Fd()), unix.POLLIN, 1)
	must(t, submit(r))
	for i := 0; i < 3; i++ {
		pw.Write([]byte{1})
		c := collect(t, r, 1, 5*time.Second)[0]
		if c.UserData != 1 || c.Res&unix.POLLIN == 0 || !c.More() {
			t.Fatalf("poll %d: %+v", i, c)
		}
	}
	PrepPollRemove(sqe(t, r), 1, 2)
	for _, c := range collect(t, r, 2, 5*time.Second) {
		if c.UserData == 1 && c.More() {
			t.Fatalf("poll still armed after removal: %+v", c)
		}
	}

	ts := unix.NsecToTimespec(int64(2 * time.Millisecond))
	t0 := time.Now()
	PrepTimeout(sqe(t, r), &ts, 0, 3)
	c := collect(t, r, 1, 5*time.Second)[0]
	if c.Res != -int32(unix.ETIME) || time.Since(t0) < 2*time.Millisecond {
		t.Fatalf("timeout: %+v after %v", c, time.Since(t0))
	}
	ts = unix.NsecToTimespec(int64(time.Hour))
	PrepTimeout(sqe(t, r), &ts, 0, 4)
	PrepTimeoutRemove(sqe(t, r), 4, 5)
	for _, c := range collect(t, r, 2, 5*time.Second) {
		if c.UserData == 4 && c.Res != -int32(unix.ECANCELED) || c.UserData == 5 && c.Res != 0 {
			t.Fatalf("timeout removal: %+v", c)
		}
	}
}

// TestMsgRing sends a message from one ring to another blocked in a wait.
func TestMsgRing(t *testing.T) {
	checkFds(t)
	a := newRing(t, Options{})
	b := newRing(t, Options{})
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		time.Sleep(2 * time.Millisecond)
		s, _ := a.GetSQE()
		PrepMsgRing(s, b.Fd(), 77, 1234, 1)
		s.Flags |= SQECQESkipSuccess
		a.Submit()
	}()
	c := collect(t, b, 1, 5*time.Second)[0]
	<-sent // a's owner hands it back before its cleanup closes it
	if c.UserData != 1234 || c.Res != 77 {
		t.Fatalf("got %+v", c)
	}
}

// TestProbe checks the opcodes the reactor needs are there on this kernel.
func TestProbe(t *testing.T) {
	r := newRing(t, Options{})
	p, err := r.Probe()
	must(t, err)
	for _, op := range []uint8{OpNop, OpPollAdd, OpAccept, OpRecv, OpSend, OpAsyncCancel, OpClose, OpMsgRing} {
		if !p.Supports(op) {
			t.Errorf("opcode %d not supported", op)
		}
	}
	if p.Supports(opLast - 1) {
		t.Errorf("opcode %d supported: the probe is not reading flags", opLast-1)
	}
}

// TestAvailable covers the environment variable and the kernel checks,
// with the sysctl and io_uring_setup replaced to reproduce each refusal.
func TestAvailable(t *testing.T) {
	t.Setenv(EnvBackend, "epoll")
	if err := Available(); err != ErrNotChosen {
		t.Errorf("epoll: %v", err)
	}
	if Forced() {
		t.Error("epoll: Forced")
	}
	t.Setenv(EnvBackend, "bogus")
	if err := Available(); err == nil || Forced() {
		t.Errorf("bogus value accepted: %v", err)
	}
	t.Setenv(EnvBackend, "uring")
	if !Forced() {
		t.Error("uring: not Forced")
	}
	if err := Available(); err != kernelErr {
		t.Errorf("uring: %v, want the kernel's answer %v", err, kernelErr)
	}
	t.Setenv(EnvBackend, "")
	if err := Available(); err != kernelErr {
		t.Errorf("auto: %v, want the kernel's answer %v", err, kernelErr)
	}

	dir := t.TempDir()
	sysctl := func(v string) string {
		p := filepath.Join(dir, v)
		must(t, os.WriteFile(p, []byte(v+"\n"), 0o644))
		return p
	}
	fail := func(e unix.Errno) setupFunc {
		return func(uint32, *params) (int, unix.Errno) { return -1, e }
	}
	for _, c := range []struct {
		name     string
		sysctl   string
		setup    setupFunc
		want     []error
		wantText string
	}{
		{"disabled=2", sysctl("2"), setup, []error{ErrDisabled}, "is 2"},
		{"ENOSYS", sysctl("0"), fail(unix.ENOSYS), []error{unix.ENOSYS}, "no io_uring"},
		{"EPERM seccomp", sysctl("0"), fail(unix.EPERM), []error{unix.EPERM}, "seccomp"},
		{"EPERM group", sysctl("1"), fail(unix.EPERM), []error{unix.EPERM, ErrDisabled}, "io_uring_group"},
		{"no sysctl", filepath.Join(dir, "missing"), setup, nil, ""},
	} {
		if c.want == nil && kernelErr != nil {
			continue // the real kernel's refusal is checked above
		}
		err := checkKernel(c.sysctl, c.setup)
		for _, w := range c.want {
			if !errors.Is(err, w) {
				t.Errorf("%s: %v, want %v", c.name, err, w)
			}
		}
		if c.want == nil && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil && !bytes.Contains([]byte(err.Error()), []byte(c.wantText)) {
			t.Errorf("%s: %q does not say %q", c.name, err, c.wantText)
		}
	}
}
