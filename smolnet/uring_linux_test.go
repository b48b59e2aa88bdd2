//go:build linux

package smolnet

// Tests of the completion path (uring_linux.go). Each forces the path on
// with forceCompletion, whatever SMOL_BACKEND says, and skips where the
// kernel refuses io_uring.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/coro"
	"github.com/smolgo/smol/internal/uring"
)

// ringExecutor forces the completion path on and runs a LocalExecutor on
// a goroutine until the test ends; the goroutine returns once the
// executor is closed.
func ringExecutor(t *testing.T) *smol.LocalExecutor {
	t.Helper()
	if err := uring.Available(); err != nil && !errors.Is(err, uring.ErrNotChosen) {
		t.Skipf("io_uring unavailable: %v", err)
	}
	if old := forceCompletion.Swap(true); !old {
		t.Cleanup(func() { forceCompletion.Store(false) })
	}
	return drivenExecutor(t)
}

// drivenExecutor returns a LocalExecutor that a goroutine drives until the
// test ends.
func drivenExecutor(t *testing.T) *smol.LocalExecutor {
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

// on runs f as a task of ex and waits for its result.
func on[T any](t *testing.T, ex *smol.LocalExecutor, f func(cx *smol.Context) (T, bool, error)) (T, error) {
	t.Helper()
	return smol.BlockOn(smol.SpawnOn(ex, smol.PollFn(f)))
}

// ringListen listens on a loopback port; the listener is closed when the
// test ends.
func ringListen(t *testing.T) *TCPListener {
	t.Helper()
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// ringPair dials ln and accepts the connection on ex's ring: the client's
// end and the server's, both closed when the test ends.
func ringPair(t *testing.T, ex *smol.LocalExecutor, ln *TCPListener) (net.Conn, *TCPConn) {
	t.Helper()
	cl, err := net.Dial("tcp", ln.AddrPort().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl, acceptOne(t, ex, ln)
}

// ringPairs makes n ringPairs.
func ringPairs(t *testing.T, ex *smol.LocalExecutor, ln *TCPListener, n int) (cls []net.Conn, cs []*TCPConn) {
	t.Helper()
	for range n {
		cl, c := ringPair(t, ex, ln)
		cls, cs = append(cls, cl), append(cs, c)
	}
	return cls, cs
}

// acceptOne accepts one connection on ex and checks that it is on the ring;
// it is closed when the test ends.
func acceptOne(t *testing.T, ex *smol.LocalExecutor, ln *TCPListener) *TCPConn {
	t.Helper()
	c, err := on(t, ex, ln.PollAccept)
	if err != nil {
		t.Fatal(err)
	}
	if c.ring() == nil {
		t.Fatal("accepted connection is not on the ring")
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ringEcho echoes c on its executor, reading into a buffer of size bytes
// (small sizes leave part of a received buffer for the next read), until
// EOF or an error, which it returns (nil for EOF).
type ringEcho struct {
	c    *TCPConn
	buf  []byte
	pend []byte
}

func (e *ringEcho) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		for len(e.pend) > 0 {
			n, ok, err := e.c.PollWrite(cx, e.pend)
			if !ok {
				return struct{}{}, false, nil
			}
			if err != nil {
				return struct{}{}, true, err
			}
			e.pend = e.pend[n:]
		}
		n, ok, err := e.c.PollRead(cx, e.buf)
		if !ok {
			return struct{}{}, false, nil
		}
		if err == io.EOF {
			return struct{}{}, true, nil
		}
		if err != nil {
			return struct{}{}, true, err
		}
		e.pend = e.buf[:n]
	}
}

// ringServer accepts on ln and echoes every connection with a ringEcho
// task whose read buffer has bufSize bytes; errors go to errs.
func ringServer(t *testing.T, ex *smol.LocalExecutor, ln *TCPListener, bufSize int) (errs chan error) {
	errs = make(chan error, 1000)
	var mu sync.Mutex
	var conns []*TCPConn
	acc := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
		for {
			c, ok, err := ln.PollAccept(cx)
			if !ok {
				return struct{}{}, false, nil
			}
			if err != nil {
				return struct{}{}, true, err
			}
			if c.ring() == nil {
				errs <- errors.New("accepted connection is not on the ring")
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			e := &ringEcho{c: c, buf: make([]byte, bufSize)}
			smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
				_, ok, err := e.Poll(cx)
				if ok {
					if err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
						errs <- err
					}
					c.Close()
				}
				return struct{}{}, ok, nil
			})).Detach()
		}
	}))
	t.Cleanup(func() {
		acc.Cancel()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return errs
}

// TestRingEcho: many clients, messages of random sizes up to 100 KiB, each
// echoed intact, with read buffers of 64 KiB and of 7 bytes.
func TestRingEcho(t *testing.T) {
	for _, bufSize := range []int{64 << 10, 7} {
		ex := ringExecutor(t)
		ln := ringListen(t)
		errs := ringServer(t, ex, ln, bufSize)
		const clients, msgs = 20, 30
		var wg sync.WaitGroup
		for i := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.Dial("tcp", ln.AddrPort().String())
				if err != nil {
					errs <- err
					return
				}
				defer c.Close()
				r := rand.New(rand.NewPCG(uint64(i), 1))
				for range msgs {
					n := 1 + r.IntN(100<<10)
					if bufSize < 100 {
						n = 1 + r.IntN(2000)
					}
					msg := make([]byte, n)
					for j := range msg {
						msg[j] = byte(r.Uint32())
					}
					go c.Write(msg)
					got := make([]byte, n)
					c.SetReadDeadline(time.Now().Add(20 * time.Second))
					if _, err := io.ReadFull(c, got); err != nil {
						errs <- err
						return
					}
					if !bytes.Equal(got, msg) {
						errs <- errors.New("echo differs")
						return
					}
				}
			}()
		}
		wg.Wait()
		select {
		case err := <-errs:
			t.Fatalf("buffer %d: %v", bufSize, err)
		default:
		}
	}
}

// TestRingWriteThenClose: a write followed at once by Close, in one poll,
// reaches the peer before the end of the stream.
func TestRingWriteThenClose(t *testing.T) {
	ex := ringExecutor(t)
	ln := ringListen(t)
	cl, c := ringPair(t, ex, ln)
	if _, err := on(t, ex, func(cx *smol.Context) (int, bool, error) {
		n, ok, err := c.PollWrite(cx, []byte("hello"))
		if ok {
			c.Close()
		}
		return n, ok, err
	}); err != nil {
		t.Fatal(err)
	}
	cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(cl)
	if err != nil || string(got) != "hello" {
		t.Fatalf("read %q, %v; want hello and EOF", got, err)
	}
}

// TestRingCloseDuringRecv: Close from another goroutine while a task waits
// to read wakes it with net.ErrClosed, and the socket is closed (the peer
// reads EOF).
func TestRingCloseDuringRecv(t *testing.T) {
	ex := ringExecutor(t)
	ln := ringListen(t)
	for range 20 {
		cl, err := net.Dial("tcp", ln.AddrPort().String())
		if err != nil {
			t.Fatal(err)
		}
		c := acceptOne(t, ex, ln)
		buf := make([]byte, 10)
		read := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) { return c.PollRead(cx, buf) }))
		time.Sleep(time.Millisecond)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := smol.BlockOn(read); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after Close: %v, want net.ErrClosed", err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("second Close: %v, want net.ErrClosed", err)
		}
		cl.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := cl.Read(buf); err != io.EOF {
			t.Fatalf("peer read %d, %v; want EOF", n, err)
		}
		cl.Close()
	}
}

// TestRingCloseDuringAccept: closing the listener from another goroutine
// while a task waits to accept wakes it with net.ErrClosed, and the port
// stops accepting (the ring's accept is cancelled and its dup closed).
func TestRingCloseDuringAccept(t *testing.T) {
	ex := ringExecutor(t)
	for range 10 {
		ln, err := Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.AddrPort().String()
		// A first accept binds the listener to the ring.
		cl, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c := acceptOne(t, ex, ln)
		c.Close()
		cl.Close()
		acc := smol.SpawnOn(ex, smol.PollFn(ln.PollAccept))
		time.Sleep(time.Millisecond)
		ln.Close()
		if _, err := smol.BlockOn(acc); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("accept after Close: %v, want net.ErrClosed", err)
		}
		for i := 0; ; i++ {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				break
			}
			c.Close()
			if i == 100 {
				t.Fatal("the port still accepts after Close")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// onRing runs f on ex's goroutine with the ring's own held, as the pump
// and the connections' polls hold it.
func onRing(t *testing.T, ex *smol.LocalExecutor, cr *cring, f func()) {
	t.Helper()
	on(t, ex, func(cx *smol.Context) (int, bool, error) {
		cr.own.Lock()
		defer cr.own.Unlock()
		f()
		return 0, true, nil
	})
}

// TestRingRequeuedClose: a Close that finds no free SQE for its cancel is
// queued again for the next round; if the connection's receive ends in
// between (the peer closed), finish closes it, and the second try must
// see that and do nothing (it indexed the freed slot and crashed the
// pump, found by review).
func TestRingRequeuedClose(t *testing.T) {
	ex := ringExecutor(t)
	ln := ringListen(t)
	cl, c := ringPair(t, ex, ln)
	armRecv(t, ex, c)
	u, cr := c.ring(), ringOf(c)
	on(t, ex, func(cx *smol.Context) (int, bool, error) {
		// Inside a task, so that the pump cannot run before both are done.
		cr.sqFull = true
		done := make(chan struct{})
		go func() { c.Close(); close(done) }() // not the ring's thread: queued
		<-done
		cl.Close() // the receive's final CQE comes with the pump's next enter
		time.Sleep(20 * time.Millisecond)
		return 0, true, nil
	})
	time.Sleep(100 * time.Millisecond) // rounds of the pump, requeueing the Close
	var slot uint32
	onRing(t, ex, cr, func() { cr.sqFull = false; slot = u.slot })
	if slot != ^uint32(0) {
		t.Fatalf("the connection still holds slot %d", slot)
	}
}

// TestRingListenerRequeuedClose: a listener's close that found no free SQE
// for its cancel sends it when it is tried again, and the accept ends: the
// ring's dup of the socket is closed.
func TestRingListenerRequeuedClose(t *testing.T) {
	ex := ringExecutor(t)
	ln := ringListen(t)
	ringPair(t, ex, ln) // binds the listener to the ring
	acc := smol.SpawnOn(ex, smol.PollFn(ln.PollAccept))
	defer acc.Cancel()
	time.Sleep(10 * time.Millisecond) // the multishot accept is armed
	ul := ln.u.Load()
	cr := ul.cr
	onRing(t, ex, cr, func() {
		cr.sqFull = true
		cr.shutListener(ul) // what the pump does with a queued Close
	})
	var armed bool
	onRing(t, ex, cr, func() { armed = ul.armed; cr.sqFull = false })
	if !armed {
		t.Fatal("the accept ended without its cancel")
	}
	for i := 0; ul.dupFd.Load() >= 0; i++ {
		if i == 500 {
			t.Fatal("the requeued close never cancelled the accept: the ring's dup is open")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestRingPeerReset: a peer that resets the connection while the server
// echoes a flood ends the echo with an error or EOF, never a hang.
func TestRingPeerReset(t *testing.T) {
	ex := ringExecutor(t)
	ln := ringListen(t)
	for range 10 {
		cl, err := net.Dial("tcp", ln.AddrPort().String())
		if err != nil {
			t.Fatal(err)
		}
		c := acceptOne(t, ex, ln)
		e := &ringEcho{c: c, buf: make([]byte, 4096)}
		echo := smol.SpawnOn(ex, e)
		go cl.Write(make([]byte, 4<<20)) // fills both directions: nobody reads the echo
		time.Sleep(20 * time.Millisecond)
		cl.(*net.TCPConn).SetLinger(0)
		cl.Close()
		done := make(chan error, 1)
		go func() { _, err := smol.BlockOn(echo); done <- err }()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
				t.Fatalf("echo ended with %v, want a reset, EPIPE or EOF", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("echo did not end after the peer's reset")
		}
	}
}

// ringOf returns c's ring.
func ringOf(c *TCPConn) *cring { return c.ring().cr }

// armRecv has a task of ex poll a read of c once, before any data came:
// that arms c's receive (a connection's first read does), so that data
// fills the ring's buffers whether or not anyone reads it.
func armRecv(t *testing.T, ex *smol.LocalExecutor, c *TCPConn) {
	t.Helper()
	if _, err := on(t, ex, func(cx *smol.Context) (int, bool, error) {
		_, ok, err := c.PollRead(cx, make([]byte, 1))
		if ok {
			return 0, true, fmt.Errorf("first read of a fresh connection ready (%v), want pending", err)
		}
		return 0, true, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestRingReaderNeverReads: a connection whose reader never reads (after
// the one poll that arms its receive) holds at most connBufs buffers while
// its peer floods it (the receive is capped, then the kernel's window
// fills), and a second connection still echoes.
func TestRingReaderNeverReads(t *testing.T) {
	ex := ringExecutor(t)
	ln := ringListen(t)
	flood, idle := ringPair(t, ex, ln)
	armRecv(t, ex, idle)
	var written atomic.Int64
	go func() {
		flood.SetWriteDeadline(time.Now().Add(5 * time.Second))
		chunk := make([]byte, 64<<10)
		for {
			n, err := flood.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); written.Load() < 1<<20 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	pp, c := ringPair(t, ex, ln)
	smol.SpawnOn(ex, &ringEcho{c: c, buf: make([]byte, 64)}).Detach()
	buf := make([]byte, 64)
	for i := range 200 {
		msg := []byte{byte(i), 2, 3}
		pp.Write(msg)
		pp.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(pp, buf[:3]); err != nil || !bytes.Equal(buf[:3], msg) {
			t.Fatalf("round trip %d during the flood: %v", i, err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	type state struct {
		held, free, nbufs int
		capped            uint64
	}
	st, err := on(t, ex, func(cx *smol.Context) (state, bool, error) {
		u, cr := idle.ring(), ringOf(idle)
		return state{int(u.n), cr.nfree, cr.nbufs, cr.stats.capped}, true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("flood wrote %d KiB; the idle reader holds %d buffers; %d of %d free; receives capped %d times",
		written.Load()>>10, st.held, st.free, st.nbufs, st.capped)
	// The cap is connBufs, but the cancel lands only at the next enter,
	// and the kernel may run a flooded multishot receive up to 32 times
	// per round of completion work before that: a bound, not a tight one.
	if limit := connBufs + 4*32; st.held > limit || st.free < st.nbufs-limit {
		t.Fatalf("the idle reader holds %d buffers, %d of %d free; want at most %d held", st.held, st.free, st.nbufs, limit)
	}
	if st.capped == 0 {
		t.Fatal("the flooded receive was never capped")
	}
}

// TestRingRunsDry: with a ring of 8 buffers, two connections that do not
// read (after the poll that arms their receive) take them all; a third connection's receive ends with ENOBUFS, and
// it is re-armed and served once the two read again.
func TestRingRunsDry(t *testing.T) {
	old := recvBufs
	recvBufs = 8
	defer func() { recvBufs = old }()
	ex := ringExecutor(t)
	ln := ringListen(t)
	var held [2]*TCPConn
	var clients [2]net.Conn
	for i := range held {
		cl, err := net.Dial("tcp", ln.AddrPort().String())
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		clients[i] = cl
		held[i] = acceptOne(t, ex, ln)
		armRecv(t, ex, held[i])
		// Four sends of a byte, far apart: four buffers.
		for range connBufs {
			cl.Write([]byte{1})
			time.Sleep(5 * time.Millisecond)
		}
	}
	pp, c := ringPair(t, ex, ln)
	echo := smol.SpawnOn(ex, &ringEcho{c: c, buf: make([]byte, 64)})
	defer echo.Cancel()
	pp.Write([]byte("ping"))
	time.Sleep(50 * time.Millisecond)
	nobufs, err := on(t, ex, func(cx *smol.Context) (uint64, bool, error) { return ringOf(c).stats.noBufs, true, nil })
	if err != nil || nobufs == 0 {
		t.Fatalf("no receive ran dry (%v)", err)
	}
	// Now the two read what they hold, and the third gets its buffer.
	for _, h := range held {
		if _, err := on(t, ex, func(cx *smol.Context) (int, bool, error) { return h.PollRead(cx, make([]byte, 100)) }); err != nil {
			t.Fatal(err)
		}
	}
	pp.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(pp, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo after the ring refilled: %q, %v", buf, err)
	}
}

// TestRingForeignPoll: once a task of its executor has read it, a
// connection on the ring stays there: a read from BlockOn fails with
// errForeignRing, and the setters still work from any goroutine.
func TestRingForeignPoll(t *testing.T) {
	ex := ringExecutor(t)
	ln := ringListen(t)
	cl, c := ringPair(t, ex, ln)
	if _, err := cl.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := on(t, ex, c.Read(make([]byte, 1)).Poll); err != nil {
		t.Fatal(err)
	}
	if _, err := smol.BlockOn(c.Read(make([]byte, 10))); !errors.Is(err, errForeignRing) {
		t.Fatalf("read from BlockOn after the executor read: %v, want errForeignRing", err)
	}
	if c.ring() == nil {
		t.Fatal("the connection left the ring after its executor used it")
	}
	if err := c.SetNoDelay(true); err != nil {
		t.Fatalf("SetNoDelay from another goroutine: %v", err)
	}
}

// TestRingHandOff: a connection accepted on the ring and handed on before
// its executor reads or writes it moves to the readiness path at its first
// poll elsewhere, and works there: from BlockOn, from a goroutine through
// NetConn, and from another LocalExecutor's task. Its slot on the ring is
// freed, and closing it leaves no descriptor open.
func TestRingHandOff(t *testing.T) {
	ex := ringExecutor(t)
	other := smol.NewLocalExecutor()
	defer other.Close()
	go smol.Run(other, smol.Never[struct{}]())
	ln := ringListen(t)
	ringPair(t, ex, ln) // the ring and its descriptors exist from here on
	before := countFds(t)

	roundTrip := func(cl net.Conn, read func([]byte) (int, error), write func([]byte) (int, error)) {
		t.Helper()
		if _, err := cl.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, 4)
		n, err := read(b)
		if err != nil || string(b[:n]) != "ping" {
			t.Fatalf("read %q, %v; want ping", b[:n], err)
		}
		if _, err := write([]byte("pong")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(cl, b); err != nil || string(b) != "pong" {
			t.Fatalf("peer read %q, %v; want pong", b, err)
		}
	}
	for _, how := range []string{"BlockOn", "NetConn", "executor"} {
		cl, c := ringPair(t, ex, ln)
		u := c.ring()
		switch how {
		case "BlockOn":
			roundTrip(cl,
				func(b []byte) (int, error) { return smol.BlockOn(c.Read(b)) },
				func(b []byte) (int, error) { return smol.BlockOn(c.WriteAll(b)) })
		case "NetConn":
			nc := c.NetConn()
			roundTrip(cl, nc.Read, nc.Write)
		case "executor":
			roundTrip(cl,
				func(b []byte) (int, error) { return smol.BlockOn(smol.SpawnOn(other, c.Read(b))) },
				func(b []byte) (int, error) { return smol.BlockOn(smol.SpawnOn(other, c.WriteAll(b))) })
		}
		if c.ring() != nil {
			t.Fatalf("%s: the connection is still on the ring", how)
		}
		if u.slot != ^uint32(0) {
			t.Fatalf("%s: the ring still holds the connection's slot", how)
		}
		if err := c.SetNoDelay(false); err != nil {
			t.Fatalf("%s: SetNoDelay after the move: %v", how, err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("%s: Close: %v", how, err)
		}
		if err := c.Close(); err == nil {
			t.Fatalf("%s: a second Close succeeded", how)
		}
		if _, err := cl.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("%s: peer read %v after Close, want EOF", how, err)
		}
		cl.Close()
	}
	waitFds(t, before)
}

// TestRingHandOffRacesClose: Close from one goroutine while another polls
// a fresh ring connection from outside its executor, which moves it; each
// of the two ways the race goes must close the socket exactly once and
// leave the connection closed. A socket closed twice would show as a
// descriptor of the test's own (a pipe made after each round) closed
// under it.
func TestRingHandOffRacesClose(t *testing.T) {
	ex := ringExecutor(t)
	ln := ringListen(t)
	ringPair(t, ex, ln) // the ring and its descriptors exist from here on
	before := countFds(t)
	moved := 0
	for i := range 200 {
		cl, c := ringPair(t, ex, ln)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				runtime.Gosched()
			}
			c.Close()
		}()
		var rerr error
		go func() {
			defer wg.Done()
			_, rerr = smol.BlockOn(c.Read(make([]byte, 1)))
		}()
		wg.Wait()
		if rerr == nil {
			t.Fatalf("round %d: a read after Close succeeded", i)
		}
		if !errors.Is(rerr, net.ErrClosed) {
			t.Fatalf("round %d: read: %v, want net.ErrClosed", i, rerr)
		}
		if c.ring() == nil {
			moved++
		}
		cl.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := cl.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("round %d: peer read %v, want EOF", i, err)
		}
		cl.Close()
		noStrayClose(t, i)
	}
	t.Logf("the read moved the connection before Close in %d rounds of 200", moved)
	waitFds(t, before)
}

// TestRingLeaveRaces: on fresh connections, a read from BlockOn (which
// moves the connection off the ring), a setter in a loop, two Closes and,
// in every other round, the executor's Close, all at once. No socket or
// ring may be left open, none closed twice (a pipe made after each round
// would be closed under the test), and every peer must see the end.
// Written by a review of the hand-off.
func TestRingLeaveRaces(t *testing.T) {
	ringExecutor(t) // skips without io_uring; forces the path on
	socks := func() (n int) {
		ents, _ := os.ReadDir("/proc/self/fd")
		for _, e := range ents {
			l, _ := os.Readlink("/proc/self/fd/" + e.Name())
			if strings.HasPrefix(l, "socket:") || strings.Contains(l, "io_uring") {
				n++
			}
		}
		return n
	}
	before := socks()
	for round := range 20 {
		ex := smol.NewLocalExecutor()
		exDone := make(chan struct{})
		go func() { defer close(exDone); smol.Run(ex, smol.Never[struct{}]()) }()
		ln := ringListen(t)
		cls, cs := ringPairs(t, ex, ln, 10)
		var wg sync.WaitGroup
		for i, c := range cs {
			wg.Add(3)
			go func() { defer wg.Done(); smol.BlockOn(c.Read(make([]byte, 1))) }()
			go func() {
				defer wg.Done()
				for range 20 {
					c.SetNoDelay(true)
					c.CloseWrite()
				}
			}()
			go func() {
				defer wg.Done()
				if i%2 == 0 {
					runtime.Gosched()
				}
				c.Close()
				c.Close()
			}()
		}
		if round%2 == 0 {
			ex.Close()
		}
		wg.Wait()
		for _, cl := range cls {
			cl.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := cl.Read(make([]byte, 1)); err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("round %d: peer read %v, want EOF", round, err)
			}
			cl.Close()
		}
		ex.Close()
		<-exDone
		ln.Close()
		noStrayClose(t, round)
	}
	for i := 0; socks() > before; i++ {
		if i%100 == 0 {
			runtime.GC() // rings of closed executors go with their cleanups
		}
		if i == 1000 {
			t.Fatalf("%d sockets and rings open after the test, %d before", socks(), before)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestRingSecondWaiters: a connection keeps one waiter inline and puts
// the others in the ring's extra table. Two readers and a writer wait on
// one connection at once (the writer behind its own send in flight); each
// is woken by what concerns it, the readers get one byte each, and the
// table is left empty.
// within awaits a task for at most 10 seconds, so that a lost wake-up
// fails the test at once instead of hanging until the binary's timeout.
func within[T any](task *smol.Task[T]) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return smol.Wait(ctx, task)
}

func TestRingSecondWaiters(t *testing.T) {
	ex := ringExecutor(t)
	ln := ringListen(t)
	cl, c := ringPair(t, ex, ln)

	read := func() *smol.Task[byte] {
		b := make([]byte, 1)
		return smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (byte, bool, error) {
			_, ok, err := c.PollRead(cx, b)
			return b[0], ok, err
		}))
	}
	r1, r2 := read(), read()
	big := bytes.Repeat([]byte("w"), 64<<10)
	sent := 0
	w := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		for sent < 2*len(big) {
			n, ok, err := c.PollWrite(cx, big[sent%len(big):])
			if !ok || err != nil {
				return sent, ok, err
			}
			sent += n
		}
		return sent, true, nil
	}))
	// Both readers and the writer must be waiting before anything comes.
	waiting := func() (n int) {
		v, _ := on(t, ex, func(cx *smol.Context) (int, bool, error) {
			u := c.ring()
			n := 0
			if u.w != nil {
				n++
			}
			if x := u.cr.extra[u]; x != nil {
				n += len(x[0]) + len(x[1])
			}
			return n, true, nil
		})
		return v
	}
	if n := waiting(); n < 2 {
		t.Fatalf("%d tasks wait on the connection, want the two readers at least", n)
	}

	if _, err := io.ReadFull(cl, make([]byte, 2*len(big))); err != nil {
		t.Fatal(err)
	}
	if n, err := within(w); err != nil || n != 2*len(big) {
		t.Fatalf("writer: %d bytes, %v; want %d", n, err, 2*len(big))
	}
	if _, err := cl.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	first, second := r1, r2
	for deadline := time.Now().Add(10 * time.Second); !r1.IsFinished(); time.Sleep(time.Millisecond) {
		if r2.IsFinished() {
			first, second = r2, r1
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no reader woke for the first byte")
		}
	}
	if b, err := within(first); err != nil || b != 'x' {
		t.Fatalf("first reader: %q, %v", b, err)
	}
	if _, err := cl.Write([]byte("y")); err != nil {
		t.Fatal(err)
	}
	if b, err := within(second); err != nil || b != 'y' {
		t.Fatalf("second reader: %q, %v", b, err)
	}
	if n, _ := on(t, ex, func(cx *smol.Context) (int, bool, error) { return len(c.ring().cr.extra), true, nil }); n != 0 {
		t.Fatalf("extra table holds %d connections after every waiter was woken, want 0", n)
	}
}

// TestRingExecutorClose: closing the executor ends the ring; its
// connections' operations fail, Close still closes them, and nothing is
// left open.
func TestRingExecutorClose(t *testing.T) {
	if err := uring.Available(); err != nil && !errors.Is(err, uring.ErrNotChosen) {
		t.Skipf("io_uring unavailable: %v", err)
	}
	before := countFds(t)
	func() {
		ex := ringExecutor(t)
		ln, err := Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		cls, conns := ringPairs(t, ex, ln, 5)
		pending := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (int, bool, error) { return conns[0].PollRead(cx, make([]byte, 10)) }))
		time.Sleep(time.Millisecond)
		ex.Close()
		if _, err := smol.BlockOn(pending); err == nil {
			t.Fatal("a read pending when the executor closed succeeded")
		}
		// The connection its executor used fails elsewhere with the
		// executor's end; one it never used moves and works.
		if _, err := smol.BlockOn(conns[0].Read(make([]byte, 1))); !errors.Is(err, errExecutorClosed) {
			t.Fatalf("read of a used connection after the executor closed: %v, want errExecutorClosed", err)
		}
		cls[1].Write([]byte("z"))
		b := make([]byte, 1)
		if _, err := smol.BlockOn(conns[1].Read(b)); err != nil || b[0] != 'z' {
			t.Fatalf("read of an unused connection after the executor closed: %q, %v; want z", b, err)
		}
		for _, c := range conns {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}
		for _, cl := range cls {
			cl.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := cl.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("peer read %v, want EOF", err)
			}
			cl.Close()
		}
	}()
	waitFds(t, before)
}

// waitFds waits until no more descriptors are open than before.
func waitFds(t *testing.T, before int) {
	t.Helper()
	for i := 0; countFds(t) > before; i++ {
		if i == 500 {
			t.Fatalf("%d descriptors open after the test, %d before", countFds(t), before)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// noStrayClose makes a pipe, leaves a moment for a stray second close(2)
// of a socket's number (the pipe may have been given it), and fails if
// either end was closed under the test.
func noStrayClose(t *testing.T, round int) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	for _, fd := range p {
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			t.Fatalf("round %d: a descriptor of the test was closed under it", round)
		}
		syscall.Close(fd)
	}
}

// countFds counts this process's open descriptors.
func countFds(t *testing.T) int {
	n := 0
	for fd := range 4096 {
		var st syscall.Stat_t
		if syscall.Fstat(fd, &st) == nil {
			n++
		}
	}
	return n
}

// TestUconnSize guards the ring's record of a connection, which every idle
// connection on the completion path holds: 80 bytes, a size class of its
// own (one byte more would cost 16).
func TestUconnSize(t *testing.T) {
	if got := unsafe.Sizeof(uconn{}); got > 80 {
		t.Errorf("uconn is %d bytes, want at most 80", got)
	}
}

// TestRingAfterCoroutine: an executor that ran a coroutine task first gets
// no ring (locking its goroutine would crash the coroutine at its next
// switch): a listener accepted from a coroutine, and then from a state
// machine, stays on the readiness path, and the coroutine keeps working.
func TestRingAfterCoroutine(t *testing.T) {
	ex := ringExecutor(t)
	ln := ringListen(t)
	cl, err := net.Dial("tcp", ln.AddrPort().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	task := coro.Spawn(ex, func(co *coro.Co) (string, error) {
		c, err := coro.Accept[*TCPConn](co, ln)
		if err != nil {
			return "", err
		}
		defer c.Close()
		if c.ring() != nil {
			return "", errors.New("a connection accepted from a coroutine is on a ring")
		}
		buf := make([]byte, 4)
		if _, err := co.ReadFull(c, buf); err != nil {
			return "", err
		}
		_, err = co.WriteAll(c, buf)
		return string(buf), err
	})
	cl.Write([]byte("ping"))
	if got, err := smol.BlockOn(task); err != nil || got != "ping" {
		t.Fatalf("coroutine echo: %q, %v", got, err)
	}
	cl2, err := net.Dial("tcp", ln.AddrPort().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	c, err := on(t, ex, ln.PollAccept)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.ring() != nil {
		t.Fatal("an executor that ran a coroutine got a ring")
	}
}

// TestRingThenCoroutine: coroutines made after the ring (with the
// goroutine already locked) read and write a connection on it.
func TestRingThenCoroutine(t *testing.T) {
	ex := ringExecutor(t)
	ln := ringListen(t)
	cl, c := ringPair(t, ex, ln)
	for i := range 3 {
		task := coro.Spawn(ex, func(co *coro.Co) (string, error) {
			buf := make([]byte, 4)
			if _, err := co.ReadFull(c, buf); err != nil {
				return "", err
			}
			_, err := co.WriteAll(c, buf)
			return string(buf), err
		})
		msg := []byte{'a' + byte(i), 'b', 'c', 'd'}
		cl.Write(msg)
		if got, err := smol.BlockOn(task); err != nil || got != string(msg) {
			t.Fatalf("coroutine %d on a ring connection: %q, %v", i, got, err)
		}
		buf := make([]byte, 4)
		cl.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(cl, buf); err != nil || !bytes.Equal(buf, msg) {
			t.Fatalf("echo %d: %q, %v", i, buf, err)
		}
	}
}

// TestRingCloseFlushes: a write, then Close, then the executor is no
// longer driven (Run returns and nobody calls it again): the bytes still
// reach the peer, because Close on the ring's goroutine submits at once.
func TestRingCloseFlushes(t *testing.T) {
	if err := uring.Available(); err != nil && !errors.Is(err, uring.ErrNotChosen) {
		t.Skipf("io_uring unavailable: %v", err)
	}
	if old := forceCompletion.Swap(true); !old {
		defer forceCompletion.Store(false)
	}
	ln := ringListen(t)
	cl, err := net.Dial("tcp", ln.AddrPort().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ex := smol.NewLocalExecutor()
	done := make(chan error, 1)
	go func() {
		_, err := smol.Run(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
			c, ok, err := ln.PollAccept(cx)
			if !ok || err != nil {
				return struct{}{}, ok, err
			}
			if c.ring() == nil {
				return struct{}{}, true, errors.New("not on the ring")
			}
			for {
				n, ok, err := c.PollWrite(cx, []byte("bye"))
				if !ok || err != nil || n != 3 {
					return struct{}{}, true, errors.New("write did not take 3 bytes at once")
				}
				c.Close()
				return struct{}{}, true, nil
			}
		}))
		done <- err
		// The goroutine stays, never driving ex again, until the peer has read.
		time.Sleep(200 * time.Millisecond)
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(cl)
	if err != nil || string(got) != "bye" {
		t.Fatalf("read %q, %v; want bye, then EOF", got, err)
	}
	ex.Close()
}

// echoOnce accepts one connection of ln on ex, echoes one message from a
// client through it, and reports whether it was on the ring.
func echoOnce(t *testing.T, ex *smol.LocalExecutor, ln *TCPListener) (onRing bool) {
	t.Helper()
	cl, err := net.Dial("tcp", ln.AddrPort().String())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	c, err := on(t, ex, ln.PollAccept)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	onRing = c.ring() != nil
	echo := smol.SpawnOn(ex, &ringEcho{c: c, buf: make([]byte, 64)})
	if _, err := cl.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 5)
	cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(cl, b); err != nil || string(b) != "hello" {
		t.Fatalf("echo: %q, %v", b, err)
	}
	cl.Close()
	if _, err := within(echo); err != nil {
		t.Fatal(err)
	}
	return onRing
}

// TestListenConfigIOURing: ListenConfig.IOURing puts a listener and its
// connections on the executor's ring without SMOL_BACKEND saying so;
// a listener without it stays on the reactor unless
// SMOL_BACKEND=uring-completion takes every listener; SMOL_BACKEND=epoll
// overrides the option.
func TestListenConfigIOURing(t *testing.T) {
	if err := uring.Available(); err != nil && !errors.Is(err, uring.ErrNotChosen) {
		t.Skipf("io_uring unavailable: %v (TestListenConfigIOURingFallback covers this case)", err)
	}
	ex := drivenExecutor(t)
	lc := ListenConfig{IOURing: true}
	asked, err := lc.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer asked.Close()
	plain := ringListen(t)
	if got, want := echoOnce(t, ex, asked), !epollChosen(); got != want {
		t.Fatalf("IOURing listener: on the ring %v, want %v (SMOL_BACKEND=%q)", got, want, os.Getenv(uring.EnvBackend))
	}
	if got, want := echoOnce(t, ex, plain), completionChosen(); got != want {
		t.Fatalf("plain listener: on the ring %v, want %v (SMOL_BACKEND=%q)", got, want, os.Getenv(uring.EnvBackend))
	}

	// SMOL_BACKEND=epoll: the option gives way (a fresh listener: one
	// bound to a ring stays there).
	if !completionChosen() {
		t.Setenv(uring.EnvBackend, "epoll")
		fresh, err := lc.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer fresh.Close()
		if echoOnce(t, drivenExecutor(t), fresh) {
			t.Fatal("IOURing listener under SMOL_BACKEND=epoll: on the ring")
		}
	}
}

// TestListenConfigIOURingFallback: where the kernel refuses io_uring
// (ENOSYS, EPERM) or the ring (io_uring_setup without DEFER_TASKRUN, say),
// a listener with ListenConfig.IOURing works on the reactor with no
// error, and after a refused ring such listeners stop trying; while
// SMOL_BACKEND=uring-completion, which forces the path, fails the accept
// with the reason.
func TestListenConfigIOURingFallback(t *testing.T) {
	for _, tc := range []struct {
		name            string
		available, ring error
	}{
		{"ENOSYS", fmt.Errorf("io_uring_setup: %w", syscall.ENOSYS), nil},
		{"EPERM", fmt.Errorf("io_uring_setup: %w", syscall.EPERM), nil},
		{"ring refused", nil, fmt.Errorf("io_uring_setup: %w", syscall.EINVAL)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			savedAvailable, savedMake := ringAvailable, makeRing
			made := 0
			ringAvailable = func() error { return tc.available }
			makeRing = func(d *smol.Driver) (*cring, error) {
				made++
				if tc.ring != nil {
					return nil, tc.ring
				}
				return savedMake(d)
			}
			defer func() { ringAvailable, makeRing = savedAvailable, savedMake; ringRefused.Store(false) }()
			want := tc.available
			if want == nil {
				want = tc.ring
			}
			ex := drivenExecutor(t)
			lc := ListenConfig{IOURing: true}
			ln, err := lc.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			if completionChosen() {
				cl, err := net.Dial("tcp", ln.AddrPort().String())
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				if _, err := on(t, ex, ln.PollAccept); !errors.Is(err, want) {
					t.Fatalf("SMOL_BACKEND=uring-completion: accept %v, want an error with %v", err, want)
				}
				return
			}
			for range 2 {
				if echoOnce(t, ex, ln) {
					t.Fatal("the connection is on a ring")
				}
			}
			if tc.ring != nil && (made != 1 || !ringRefused.Load()) {
				t.Fatalf("a refused ring: %d attempts over two accepts (want 1), refused %v", made, ringRefused.Load())
			}
		})
	}
}
