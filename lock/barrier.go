package lock

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
)

// Barrier lets a fixed number of parties wait for each other: each
// arrives (Arrive, WaitBlocking or WaitContext), and all of them are released together once the last one arrives.
// Exactly one of each group, the last to arrive, is told it is the leader.
// The Barrier then starts over for the next group. A Barrier must not be
// copied after first use.
type Barrier struct {
	n     int
	mu    sync.Mutex
	count int           // parties waiting in the current generation; guarded by mu
	gen   atomic.Uint64 // generation, bumped (under mu) when a group is released
	ev    event.Event   // notified in full when a group is released
}

// NewBarrier returns a Barrier for groups of n parties. n < 1 is taken as
// 1: every party is released at once as the leader.
func NewBarrier(n int) *Barrier { return &Barrier{n: max(n, 1)} }

// Arrive returns a future that is ready once n parties (this one included)
// have arrived, with true for exactly one of them, the last to arrive (the
// leader). A party arrives at the first poll of its future. An Arrive
// future abandoned before it is ready must be discarded
// ([BarrierFuture.Discard]), which withdraws its arrival.
//
// It is not named Wait because "b.Wait()", a sync.WaitGroup habit, would
// compile and wait for nothing: goroutine code uses [Barrier.WaitBlocking].
func (b *Barrier) Arrive() *BarrierFuture { return &BarrierFuture{b: b} }

// WaitBlocking arrives at the barrier and blocks the calling goroutine until
// the group is complete; it reports whether this caller is the leader.
func (b *Barrier) WaitBlocking() bool {
	f := barrierFutures.Get().(*BarrierFuture)
	f.Reset(b)
	leader, _ := smol.BlockOn(f)
	barrierFutures.Put(f)
	return leader
}

// WaitContext is WaitBlocking that gives up when ctx is done, returning
// ctx.Err() and withdrawing its arrival (unless the group completed first,
// in which case it returns nil).
func (b *Barrier) WaitContext(ctx context.Context) (leader bool, err error) {
	f := barrierFutures.Get().(*BarrierFuture)
	f.Reset(b)
	leader, err = waitContext(ctx, f)
	barrierFutures.Put(f)
	return leader, err
}

var barrierFutures = sync.Pool{New: func() any { return new(BarrierFuture) }}

// BarrierFuture is one party's wait at a [Barrier], returned by
// [Barrier.Arrive]: a [smol.Future] of whether this party is the leader. The
// zero BarrierFuture is not usable; [BarrierFuture.Reset] prepares one for
// reuse without allocating.
type BarrierFuture struct {
	b       *Barrier
	l       event.Listener
	gen     uint64 // the generation it joined
	arrived bool   // counted in b.count, group not yet released
}

// Reset prepares f for a wait at b, discarding the wait f was doing if it
// was still pending.
func (f *BarrierFuture) Reset(b *Barrier) {
	f.Discard()
	f.b = b
}

// Poll arrives at the barrier on the first call, and is ready once the
// group is complete.
func (f *BarrierFuture) Poll(cx *smol.Context) (bool, bool, error) {
	b := f.b
	if !f.arrived {
		b.mu.Lock()
		b.count++
		if b.count == b.n {
			// The last to arrive: release the group.
			b.count = 0
			b.gen.Add(1)
			b.mu.Unlock()
			b.ev.Notify(event.All)
			return true, true, nil
		}
		f.gen, f.arrived = b.gen.Load(), true
		b.mu.Unlock()
	}
	for {
		if f.l.Listening() {
			if _, ok, _ := f.l.Poll(cx); !ok {
				cx.WaitingOn(b, smol.WaitLock)
				return false, false, nil
			}
		}
		if b.gen.Load() != f.gen {
			f.arrived = false
			return false, true, nil
		}
		f.l.ListenToWith(&b.ev, cx.Waker())
		if b.gen.Load() != f.gen {
			f.l.Discard()
			f.arrived = false
			return false, true, nil
		}
		cx.WaitingOn(b, smol.WaitLock)
		return false, false, nil
	}
}

// String describes the barrier for task dumps.
func (b *Barrier) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("lock.Barrier (%d of %d arrived)", b.count, b.n)
}

// Discard withdraws this party's arrival if its group is not yet complete,
// so the group waits for another party in its place. Discarding a future
// that is ready, or was never polled, does nothing.
func (f *BarrierFuture) Discard() {
	f.l.Discard()
	if !f.arrived {
		return
	}
	f.arrived = false
	b := f.b
	b.mu.Lock()
	if b.gen.Load() == f.gen {
		b.count--
	}
	b.mu.Unlock()
}
