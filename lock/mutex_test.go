package lock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/lock"
)

func TestMutexBasics(t *testing.T) {
	var m lock.Mutex
	if !m.TryLock() || m.TryLock() {
		t.Fatal("TryLock")
	}
	m.Unlock()
	mustPanic(t, "Unlock of unlocked Mutex", m.Unlock)
	// The failed Unlock left the Mutex usable.
	if !m.TryLock() {
		t.Fatal("Mutex broken by a bad Unlock")
	}
	m.Unlock()
	f := m.Acquire()
	if _, ok, _ := f.Poll(noop); !ok {
		t.Fatal("Lock of a free Mutex not ready")
	}
	m.Unlock()
}

// TestMutexWakesInOrder: waiters are woken one per Unlock, oldest first.
func TestMutexWakesInOrder(t *testing.T) {
	var m lock.Mutex
	m.LockBlocking()
	fs := []*lock.LockFuture{m.Acquire(), m.Acquire(), m.Acquire()}
	ws := make([]counter, 3)
	for i, f := range fs {
		if _, ok, _ := f.Poll(cx(&ws[i])); ok {
			t.Fatal("ready while locked")
		}
	}
	for i := range fs {
		m.Unlock()
		for j := range ws {
			if got, want := ws[j].take(), int32(0); j == i && got != 1 || j != i && got != want {
				t.Fatalf("unlock %d: waiter %d woken %d times", i, j, got)
			}
		}
		if _, ok, _ := fs[i].Poll(cx(&ws[i])); !ok {
			t.Fatalf("woken waiter %d did not get the lock", i)
		}
	}
	m.Unlock()
}

// TestMutexDiscardPassesWake: a waiter woken and then discarded passes the
// wake to the next waiter.
func TestMutexDiscardPassesWake(t *testing.T) {
	var m lock.Mutex
	m.LockBlocking()
	a, b := m.Acquire(), m.Acquire()
	var wa, wb counter
	a.Poll(cx(&wa))
	b.Poll(cx(&wb))
	m.Unlock()
	if wa.take() != 1 || wb.take() != 0 {
		t.Fatal("unlock did not wake the first waiter only")
	}
	a.Discard()
	if wb.take() != 1 {
		t.Fatal("discarded waiter did not pass its wake on")
	}
	if _, ok, _ := b.Poll(cx(&wb)); !ok {
		t.Fatal("b did not get the lock")
	}
	m.Unlock()
}

// TestMutexFairnessBound checks the order the starvation rule promises: a
// waiter that has waited past StarvationBound and lost to a barging caller
// shuts out new callers, and takes the lock at the next Unlock. It sleeps
// past the bound, but asserts only the order of events.
func TestMutexFairnessBound(t *testing.T) {
	var m lock.Mutex
	m.LockBlocking()
	starved := m.Acquire()
	var ws counter
	if _, ok, _ := starved.Poll(cx(&ws)); ok {
		t.Fatal("ready while locked")
	}
	time.Sleep(2 * lock.StarvationBound)

	// Unlock wakes the waiter, but a caller barges in before it polls.
	m.Unlock()
	if !m.TryLock() {
		t.Fatal("barging TryLock failed on a free Mutex with no starved waiter")
	}
	if _, ok, _ := starved.Poll(cx(&ws)); ok {
		t.Fatal("waiter got a held lock")
	}
	// The waiter, past the bound, is now starved: new callers are shut out
	// even when the lock is free...
	newcomer := m.Acquire()
	var wn counter
	if _, ok, _ := newcomer.Poll(cx(&wn)); ok {
		t.Fatal("newcomer got a held lock")
	}
	m.Unlock()
	if m.TryLock() {
		t.Fatal("TryLock took the lock past a starved waiter")
	}
	if _, ok, _ := newcomer.Poll(cx(&wn)); ok {
		t.Fatal("newcomer took the lock past a starved waiter")
	}
	// ... and the starved waiter gets it next.
	if _, ok, _ := starved.Poll(cx(&ws)); !ok {
		t.Fatal("starved waiter did not get the lock at the next unlock")
	}
	// The newcomer, which found a starved waiter, joined the starved line
	// itself; it is next.
	m.Unlock()
	if _, ok, _ := newcomer.Poll(cx(&wn)); !ok {
		t.Fatal("newcomer did not get the lock")
	}
	m.Unlock()
	if !m.TryLock() {
		t.Fatal("fast path still shut after the starved waiter left")
	}
	m.Unlock()
}

// TestMutexDiscardStarved: a starved waiter that gives up reopens the fast
// path.
func TestMutexDiscardStarved(t *testing.T) {
	var m lock.Mutex
	m.LockBlocking()
	f := m.Acquire()
	f.Poll(noop)
	time.Sleep(2 * lock.StarvationBound)
	m.Unlock()
	m.LockBlocking() // barge
	f.Poll(noop)     // starved now
	m.Unlock()
	if m.TryLock() {
		t.Fatal("fast path open with a starved waiter")
	}
	f.Discard()
	if !m.TryLock() {
		t.Fatal("fast path still shut after the starved waiter was discarded")
	}
	m.Unlock()
}

// TestMutexExclusion: tasks and goroutines increment a counter under the
// Mutex, tasks holding it across a pending point.
func TestMutexExclusion(t *testing.T) {
	var m lock.Mutex
	var inside, total int
	const tasks, iters = 8, 300
	body := func() {
		inside++
		if inside != 1 {
			panic("two holders")
		}
	}
	leave := func() { inside--; total++ }
	var fs []smol.Future[struct{}]
	for range tasks {
		var st []func() smol.Future[struct{}]
		for range iters {
			st = append(st,
				await(func() smol.Future[struct{}] { return m.Acquire() }),
				do(body), yield(), do(leave), do(m.Unlock))
		}
		fs = append(fs, &steps{fs: st})
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range iters {
				m.LockBlocking()
				body()
				leave()
				m.Unlock()
			}
		}()
	}
	runTasks(t, fs...)
	wg.Wait()
	if total != (tasks+2)*iters {
		t.Fatalf("total = %d", total)
	}
}

func TestMutexLockContext(t *testing.T) {
	var m lock.Mutex
	m.LockBlocking()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.LockContext(ctx) }()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("LockContext = %v", err)
	}
	m.Unlock()
	if err := m.LockContext(ctx); err != nil {
		t.Fatalf("LockContext on a free Mutex with a done ctx = %v", err)
	}
	m.Unlock()
}
