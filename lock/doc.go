// Package lock provides locks and other synchronisation primitives for
// async code: [Mutex], [RwLock], [Semaphore], [Barrier] and [OnceCell].
// Each has a future form that tasks await, a blocking form for ordinary
// goroutines, a form that takes a context.Context, and a Try form that
// never waits, so tasks and goroutines can share one lock.
//
// # When to use these
//
// A task that holds a sync.Mutex across a pending poll blocks the executor
// goroutine of every other task that wants the lock. The types here make
// the waiting task pending instead, so the executor runs something else.
// If a lock is never held across an await, sync.Mutex is simpler and
// faster, and is the better choice; the same goes for the other types.
//
// # Futures and cancellation
//
// The future-returning methods (Mutex.Acquire, RwLock.AcquireRead and
// AcquireWrite, Semaphore.Acquire, Barrier.Arrive, OnceCell.GetOrInit) do
// nothing until polled; a future that is dropped unpolled costs
// nothing. A future that was polled and then abandoned before it was ready
// must be given up with its Discard method, which withdraws it from the
// queue of waiters and passes on a wake it had received but not used (Go
// has no destructors to do this). A future must not be copied after its
// first poll. Once a lock future is ready the caller holds the lock and
// releases it with the matching Unlock, as with sync.Mutex; discarding a
// future that is ready does not release anything.
//
// A task canceled by Task.Cancel or by closing its executor calls Discard
// on its future (the futures here are smol.Discarders, and the runtime's
// combinators forward the call), so a waiter canceled with its task leaves
// the line and passes on a wake it had received.
//
// # Names that keep Go habits safe
//
// Calling a future-returning method and ignoring its result locks
// nothing. So none of them is named Lock, RLock or Wait: with a Lock that
// returned a future, the sync.Mutex habit "mu.Lock(); defer mu.Unlock()"
// would compile and silently guard nothing; here it does not compile, and
// the compiler's "has no field or method Lock, but does have method
// Unlock" sends the reader to this page. Goroutine code uses the blocking
// forms (Mutex.LockBlocking, RwLock.ReadBlocking, Barrier.WaitBlocking);
// tasks await Acquire, AcquireRead, AcquireWrite or Arrive. A future
// dropped unawaited by any other name is reported by the smolvet analyzer
// (module github.com/smolgo/smol/smolvet), and an Unlock of a Mutex that
// nobody locked panics.
//
// # Costs
//
// An uncontended lock, unlock, acquire or release is one or two atomic
// operations (the Semaphore takes a mutex) and allocates nothing. Acquire,
// AcquireRead, AcquireWrite and Arrive allocate their future; each future type
// has a Reset method so that one embedded in a longer-lived future is
// reused without allocating. The blocking forms allocate nothing in the
// steady state; the context forms allocate for the context callback when
// they have to wait.
package lock
