package lock_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/lock"
)

func TestRwLockBasics(t *testing.T) {
	var rw lock.RwLock
	if !rw.TryRead() || !rw.TryRead() {
		t.Fatal("two readers refused")
	}
	if rw.TryWrite() {
		t.Fatal("writer admitted with readers inside")
	}
	rw.RUnlock()
	rw.RUnlock()
	mustPanic(t, "RUnlock without readers", rw.RUnlock)
	mustPanic(t, "Unlock without a writer", rw.Unlock)
	if !rw.TryWrite() {
		t.Fatal("writer refused on a free lock")
	}
	if rw.TryRead() || rw.TryWrite() {
		t.Fatal("admitted past a writer")
	}
	rw.Unlock()
	if !rw.TryRead() {
		t.Fatal("reader refused after the writer left")
	}
	rw.RUnlock()
}

// TestRwLockWriterPreferred: a waiting writer shuts out new readers, gets
// the lock when the readers inside leave, and the readers that queued
// behind it get in when it unlocks.
func TestRwLockWriterPreferred(t *testing.T) {
	var rw lock.RwLock
	rw.ReadBlocking()
	w := rw.AcquireWrite()
	var ww counter
	if _, ok, _ := w.Poll(cx(&ww)); ok {
		t.Fatal("writer admitted with a reader inside")
	}
	if rw.TryRead() {
		t.Fatal("new reader admitted past a waiting writer")
	}
	r := rw.AcquireRead()
	var wr counter
	if _, ok, _ := r.Poll(cx(&wr)); ok {
		t.Fatal("new reader future admitted past a waiting writer")
	}
	rw.RUnlock()
	if ww.take() != 1 {
		t.Fatal("last reader out did not wake the writer")
	}
	if _, ok, _ := w.Poll(cx(&ww)); !ok {
		t.Fatal("writer not admitted after the reader left")
	}
	if _, ok, _ := r.Poll(cx(&wr)); ok {
		t.Fatal("reader admitted while the writer holds the lock")
	}
	rw.Unlock()
	if wr.take() != 1 {
		t.Fatal("writer's unlock did not wake the reader")
	}
	if _, ok, _ := r.Poll(cx(&wr)); !ok {
		t.Fatal("reader not admitted after the writer left")
	}
	rw.RUnlock()
}

// TestRwLockDiscardWriter: a writer that gives up while waiting for readers
// lets new readers in again.
func TestRwLockDiscardWriter(t *testing.T) {
	var rw lock.RwLock
	rw.ReadBlocking()
	w := rw.AcquireWrite()
	w.Poll(noop)
	r := rw.AcquireRead()
	var wr counter
	r.Poll(cx(&wr))
	w.Discard()
	if wr.take() != 1 {
		t.Fatal("discarded writer did not wake the reader")
	}
	if _, ok, _ := r.Poll(cx(&wr)); !ok {
		t.Fatal("reader not admitted")
	}
	rw.RUnlock()
	rw.RUnlock()
	if !rw.TryWrite() {
		t.Fatal("lock not free")
	}
	rw.Unlock()
}

// TestRwLockWriterNotStarved: reader tasks hold the lock in overlapping
// turns, so that some reader is always inside; a writer must still get in.
// Without writer preference this test hangs.
func TestRwLockWriterNotStarved(t *testing.T) {
	t.Run("local", func(t *testing.T) { writerNotStarved(t, runLocal) })
	t.Run("executor", func(t *testing.T) { writerNotStarved(t, runTasks) })
}

func writerNotStarved(t *testing.T, run func(*testing.T, ...smol.Future[struct{}])) {
	var rw lock.RwLock
	var stop atomic.Bool
	var reads atomic.Int64
	var readers []smol.Future[struct{}]
	for range 3 {
		readers = append(readers, &readLoop{rw: &rw, stop: &stop, reads: &reads})
	}
	var wrote atomic.Bool
	writer := &steps{fs: []func() smol.Future[struct{}]{
		// Let the readers get going first.
		func() smol.Future[struct{}] {
			return smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
				if reads.Load() < 100 {
					cx.Waker().Wake()
					return struct{}{}, false, nil
				}
				return struct{}{}, true, nil
			})
		},
		await(func() smol.Future[struct{}] { return rw.AcquireWrite() }),
		do(func() { wrote.Store(true); rw.Unlock(); stop.Store(true) }),
	}}
	run(t, append(readers, writer)...)
	if !wrote.Load() {
		t.Fatal("writer never ran")
	}
}

// readLoop takes a read lock, holds it across a yield, and releases it and
// asks for the next one in the same poll, until stop. With several of them
// some reader is inside at every moment another task could run: a lock
// without writer preference would never let a writer in.
type readLoop struct {
	rw    *lock.RwLock
	stop  *atomic.Bool
	reads *atomic.Int64
	f     lock.ReadFuture
	state int
}

func (r *readLoop) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		switch r.state {
		case 0: // start a read
			if r.stop.Load() {
				return struct{}{}, true, nil
			}
			r.f.Reset(r.rw)
			r.state = 1
		case 1: // wait for it, then hold it across a yield
			if _, ok, _ := r.f.Poll(cx); !ok {
				return struct{}{}, false, nil
			}
			r.reads.Add(1)
			r.state = 2
			cx.Waker().Wake()
			return struct{}{}, false, nil
		case 2: // release, and go straight on to the next read
			r.rw.RUnlock()
			r.state = 0
		}
	}
}

func TestRwLockExclusion(t *testing.T) {
	var rw lock.RwLock
	var readers, writers atomic.Int32
	check := func() {
		if writers.Load() > 1 || writers.Load() == 1 && readers.Load() > 0 {
			panic("exclusion broken")
		}
	}
	var fs []smol.Future[struct{}]
	for i := range 6 {
		var st []func() smol.Future[struct{}]
		for range 100 {
			if i%3 == 0 {
				st = append(st, await(func() smol.Future[struct{}] { return rw.AcquireWrite() }),
					do(func() { writers.Add(1); check() }), yield(),
					do(func() { writers.Add(-1); rw.Unlock() }))
			} else {
				st = append(st, await(func() smol.Future[struct{}] { return rw.AcquireRead() }),
					do(func() { readers.Add(1); check() }), yield(),
					do(func() { readers.Add(-1); rw.RUnlock() }))
			}
		}
		fs = append(fs, &steps{fs: st})
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range 200 {
			rw.WriteBlocking()
			writers.Add(1)
			check()
			writers.Add(-1)
			rw.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		for range 200 {
			rw.ReadBlocking()
			readers.Add(1)
			check()
			readers.Add(-1)
			rw.RUnlock()
		}
	}()
	runTasks(t, fs...)
	wg.Wait()
}

func TestRwLockContext(t *testing.T) {
	var rw lock.RwLock
	rw.ReadBlocking()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := rw.WriteContext(ctx); err != context.Canceled {
		t.Fatalf("WriteContext = %v", err)
	}
	// The canceled writer let go: readers still get in.
	if err := rw.ReadContext(ctx); err != nil {
		t.Fatalf("ReadContext = %v", err)
	}
	rw.RUnlock()
	rw.RUnlock()
	rw.WriteBlocking()
	if err := rw.ReadContext(ctx); err != context.Canceled {
		t.Fatalf("ReadContext past a writer = %v", err)
	}
	rw.Unlock()
}
