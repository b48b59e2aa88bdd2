package lock

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
)

// RwLock is a reader-writer lock whose lock operations are futures: any
// number of readers, or one writer, hold it at a time. The zero RwLock is
// unlocked. An RwLock must not be copied after first use.
//
// # Writers never starve
//
// Writers line up on an inner [Mutex] (eventually fair, see there). The
// writer at the front of that line sets the writer bit, which stops new
// readers from entering, and waits only for the readers already inside to
// leave; so a stream of readers, however continuous, delays a writer by at
// most the longest read in progress when it arrived. Readers that arrive
// while a writer waits or holds the lock wait for it, and are all woken
// when it unlocks. The price is that a steady stream of writers can delay
// readers; use a Mutex if reads are not much more common than writes.
type RwLock struct {
	// writers serialises writers: a writer holds it from before it sets
	// the writer bit until it unlocks.
	writers Mutex
	// state is rwWriter while a writer waits for readers or holds the lock,
	// plus rwReader for each reader holding it.
	state atomic.Int64
	// noReaders is notified when the last reader leaves; noWriter when a
	// writer leaves (or gives up) and readers may enter.
	noReaders, noWriter event.Event
}

const (
	rwWriter int64 = 1
	rwReader int64 = 2
)

// TryRead takes a read lock if no writer holds or waits for the lock,
// without waiting, and reports whether it did.
func (rw *RwLock) TryRead() bool {
	for {
		s := rw.state.Load()
		if s&rwWriter != 0 {
			return false
		}
		// The CAS orders this reader after the last writer's unlock (its
		// And on state) and before the next writer's Or.
		if rw.state.CompareAndSwap(s, s+rwReader) {
			return true
		}
	}
}

// RUnlock releases a read lock. It panics if no read lock is held.
func (rw *RwLock) RUnlock() {
	s := rw.state.Add(-rwReader)
	if s < 0 {
		rw.state.Add(rwReader)
		panic("lock: RUnlock of RwLock without readers")
	}
	// The last reader out lets a waiting writer in.
	if s == rwWriter {
		rw.noReaders.Notify(1)
	}
}

// TryWrite takes the write lock if the lock is free and no writer is
// waiting, without waiting, and reports whether it did.
func (rw *RwLock) TryWrite() bool {
	if !rw.writers.TryLock() {
		return false
	}
	if rw.state.CompareAndSwap(0, rwWriter) {
		return true
	}
	rw.writers.Unlock()
	return false
}

// Unlock releases the write lock and wakes the readers waiting for it
// and the next writer. It panics if the write lock is not held.
func (rw *RwLock) Unlock() {
	if rw.state.Load() != rwWriter {
		panic("lock: Unlock of RwLock not locked for writing")
	}
	rw.releaseWriterBit()
	rw.writers.Unlock()
}

// releaseWriterBit lets readers in again after a writer left or gave up.
func (rw *RwLock) releaseWriterBit() {
	rw.state.And(^rwWriter)
	rw.noWriter.Notify(event.All)
}

// AcquireRead returns a future that is ready once the caller holds a read
// lock, which it releases with [RwLock.RUnlock]. An AcquireRead future
// abandoned before it is ready must be discarded ([ReadFuture.Discard]).
// (There is no RLock, for the reason [Mutex.Acquire] gives.)
func (rw *RwLock) AcquireRead() *ReadFuture { return &ReadFuture{rw: rw} }

// ReadBlocking takes a read lock, blocking the calling goroutine until it
// can. It is for goroutines, not for use inside a poll.
func (rw *RwLock) ReadBlocking() {
	if rw.TryRead() {
		return
	}
	f := readFutures.Get().(*ReadFuture)
	f.Reset(rw)
	_, _ = smol.BlockOn(f) // a lock future does not fail
	readFutures.Put(f)
}

// ReadContext takes a read lock, blocking the calling goroutine until it
// can or ctx is done. It returns nil with the read lock held, or ctx.Err()
// without it.
func (rw *RwLock) ReadContext(ctx context.Context) error {
	if rw.TryRead() {
		return nil
	}
	f := readFutures.Get().(*ReadFuture)
	f.Reset(rw)
	_, err := waitContext(ctx, f)
	readFutures.Put(f)
	return err
}

// AcquireWrite returns a future that is ready once the caller holds the
// write lock, which it releases with [RwLock.Unlock]. An AcquireWrite
// future abandoned before it is ready must be discarded
// ([WriteFuture.Discard]). (There is no Lock, for the reason
// [Mutex.Acquire] gives.)
func (rw *RwLock) AcquireWrite() *WriteFuture { return &WriteFuture{rw: rw} }

// WriteBlocking takes the write lock, blocking the calling goroutine until
// it can. It is for goroutines, not for use inside a poll.
func (rw *RwLock) WriteBlocking() {
	if rw.TryWrite() {
		return
	}
	f := writeFutures.Get().(*WriteFuture)
	f.Reset(rw)
	_, _ = smol.BlockOn(f) // a lock future does not fail
	writeFutures.Put(f)
}

// WriteContext takes the write lock, blocking the calling goroutine until
// it can or ctx is done. It returns nil with the write lock held, or
// ctx.Err() without it.
func (rw *RwLock) WriteContext(ctx context.Context) error {
	if rw.TryWrite() {
		return nil
	}
	f := writeFutures.Get().(*WriteFuture)
	f.Reset(rw)
	_, err := waitContext(ctx, f)
	writeFutures.Put(f)
	return err
}

var (
	readFutures  = sync.Pool{New: func() any { return new(ReadFuture) }}
	writeFutures = sync.Pool{New: func() any { return new(WriteFuture) }}
)

// ReadFuture is a read-lock operation in progress, returned by
// [RwLock.AcquireRead]: a [smol.Future] that is ready once the caller holds a read
// lock. The zero ReadFuture is not usable; [ReadFuture.Reset] prepares one
// for reuse without allocating.
type ReadFuture struct {
	rw *RwLock
	l  event.Listener
}

// Reset prepares f to read-lock rw, discarding the operation f was doing
// if it was still waiting.
func (f *ReadFuture) Reset(rw *RwLock) {
	f.l.Discard()
	f.rw = rw
}

// Poll tries to take a read lock; it waits while a writer holds or waits
// for the lock. Each poll spends a unit of the task's budget.
func (f *ReadFuture) Poll(cx *smol.Context) (struct{}, bool, error) {
	return acquire(cx, f.rw, f)
}

func (f *ReadFuture) try(cx *smol.Context) bool {
	for {
		if f.l.Listening() {
			if _, ok, _ := f.l.Poll(cx); !ok {
				return false
			}
		}
		if f.rw.TryRead() {
			return true
		}
		// A writer is in: listen, then look once more before waiting.
		f.l.ListenToWith(&f.rw.noWriter, cx.Waker())
		if f.rw.TryRead() {
			f.l.Discard()
			return true
		}
		return false
	}
}

// Discard gives up the read-lock operation if it is not complete.
// Discarding a future that is ready does nothing (the caller holds a read
// lock and must RUnlock it).
func (f *ReadFuture) Discard() { f.l.Discard() }

// WriteFuture is a write-lock operation in progress, returned by
// [RwLock.AcquireWrite]: a [smol.Future] that is ready once the caller holds the
// write lock. The zero WriteFuture is not usable; [WriteFuture.Reset]
// prepares one for reuse without allocating.
type WriteFuture struct {
	rw      *RwLock
	lock    LockFuture // phase one: the writers' Mutex
	locked  bool       // phase two: the Mutex is held and the writer bit set
	l       event.Listener
	started bool
}

// Reset prepares f to write-lock rw, discarding the operation f was doing
// if it was still waiting.
func (f *WriteFuture) Reset(rw *RwLock) {
	f.Discard()
	f.rw, f.started = rw, false
}

// Poll tries to take the write lock: first the writers' Mutex, then the
// writer bit, then it waits for the readers inside to leave. Each poll
// spends a unit of the task's budget.
func (f *WriteFuture) Poll(cx *smol.Context) (struct{}, bool, error) {
	return acquire(cx, f.rw, f)
}

func (f *WriteFuture) try(cx *smol.Context) bool {
	rw := f.rw
	if !f.locked {
		// Phase one: get to the front of the writers' line.
		if !f.started {
			f.lock.Reset(&rw.writers)
			f.started = true
		}
		if !f.lock.try(cx) {
			return false
		}
		// Shut the door on new readers. If none is inside, the lock is ours.
		if rw.state.Or(rwWriter) == 0 {
			return true
		}
		f.locked = true
	}
	// Phase two: wait for the readers inside to leave.
	for {
		if f.l.Listening() {
			if _, ok, _ := f.l.Poll(cx); !ok {
				return false
			}
		}
		if rw.state.Load() == rwWriter {
			f.locked = false
			return true
		}
		f.l.ListenToWith(&rw.noReaders, cx.Waker())
		if rw.state.Load() == rwWriter {
			f.l.Discard()
			f.locked = false
			return true
		}
		return false
	}
}

// Discard gives up the write-lock operation if it is not complete: a
// writer that had already shut out new readers lets them in again and
// leaves the writers' line. Discarding a future that is ready does nothing
// (the caller holds the write lock and must Unlock it).
func (f *WriteFuture) Discard() {
	f.l.Discard()
	if f.locked {
		f.locked = false
		f.rw.releaseWriterBit()
		f.rw.writers.Unlock()
		return
	}
	if f.started {
		f.lock.Discard()
	}
}

// String describes the lock for task dumps: "lock.RwLock (3 readers)" or
// "lock.RwLock (writer)".
func (rw *RwLock) String() string {
	s := rw.state.Load()
	readers := strconv.FormatInt(s/rwReader, 10) + " readers"
	if s&rwWriter != 0 {
		return "lock.RwLock (writer in or waiting, " + readers + ")"
	}
	return "lock.RwLock (" + readers + ")"
}
