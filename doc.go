// Package smol is a small async runtime: futures, tasks that cost bytes
// rather than kilobytes, executors you own, per-executor time, and a pool
// for blocking calls.
//
// # The poll contract
//
// Every piece of the runtime keeps one contract, stated here once.
//
// A [Future] is polled with a [*Context] that carries a [Waker]. Poll
// returns (value, ok, err). ok == false means pending: the other results
// are zero, and the future has arranged for the context's waker to be
// woken once progress is possible. A pending future that arranged no wake
// is a bug: the task that awaits it hangs. ok == true means ready: the
// future succeeded with value if err is nil, and failed with err
// otherwise (it may still report a partial value, as io.Reader reports n
// with an error). The poll-style methods of this module follow the same
// order: PollRead returns (n int, ok bool, err error).
//
// Waking is cheap and idempotent, safe from any goroutine, and never runs
// user code inline: it only marks a task runnable. A waker may be woken
// after its task finished; that is a no-op. A future is not polled again
// after it returned ready. Polls are short: they never block, sleep or wait
// on a Go channel. Blocking work goes to the blocking pool (package
// github.com/smolgo/smol/blocking).
//
// A future must not be copied after its first poll: wakers and wait queues
// point into it. Futures are values you keep behind a pointer (the
// constructors here return pointers or small immutable values), and go
// vet's copylocks check reports copies of the types that would break.
//
// # One way to fail
//
// Failure travels in the error result, everywhere: a socket read fails
// with a *net.OpError, a [Timeout] with [ErrTimeout], a canceled task with
// [ErrCanceled], a receive from a closed channel with channel.ErrClosed.
// Combinators pass errors through ([Map], [Then]) or fail fast ([Join],
// [JoinAll]); [Timeout] never nests results. The three ways to wait for a
// future from ordinary code agree on every outcome:
//
//	v, err := smol.BlockOn(f)          // on this goroutine
//	v, err := smol.Run(ex, f)          // on this goroutine, driving ex
//	v, err := smol.Wait(ctx, f)        // BlockOn that gives up when ctx is done
//
// each returns f's value and error; [ErrClosed] if ex is closed first (Run)
// or the task's executor was; [ErrCanceled] for a canceled task; and a
// panic in a task is re-raised, as a [*PanicError], by all three.
//
// # Giving up a future
//
// A future dropped before it is ready may need to give up a registration
// (a place in a lock's queue, a timer in its driver's heap, a wake owed to
// another receiver). Go has no destructors, so such futures implement
// [Discarder], and tasks and combinators call Discard for them. A future
// of your own that holds a library future must forward Discard to it; see
// [Discarder] for the rule and the one-line way to follow it.
//
// Futures do nothing until polled: "mu.Acquire()" or "tx.Send(v)" as a
// statement, with the future thrown away, does nothing at all. (A few start
// their work when they are made, because it runs elsewhere: the blocking
// pool's, and package fs's; throwing those away loses their error.) The lock
// package names its futures so that the sync.Mutex habit ("mu.Lock();
// defer mu.Unlock()") does not compile, and the smolvet analyzer (module
// github.com/smolgo/smol/smolvet) reports any future that is created and
// dropped unawaited.
//
// # The driver: time, budget, and what a task waits on
//
// The *Context passed to Poll is valid only during that call: a future
// that needs to wake its task later keeps cx.Waker(), never cx. Besides
// the waker it carries the executor's [Driver] ([Context.Driver]), the
// task's cooperative budget ([Context.Proceed]) and a note of what the
// task waits on ([Context.WaitingOn]). The Context is unrelated to the
// standard library's context.Context; [Wait] and [ContextDone] bridge the
// two.
//
// Time belongs to an executor, not to the process. Each executor has a
// driver with its own clock (the real clock unless [WithClock] gives
// another, such as a clock.Manual in a test: package
// github.com/smolgo/smol/clock) and its own timer heap. A
// timer ([Sleep], [After], [At], [Interval], [Timeout], [Deadline]) binds
// to the driver of the first task that polls it, and durations count from
// that poll. Executors on different clocks run side by side in one
// process, which is what deterministic simulation builds on. The
// epoll/kqueue poller is shared by the process, as the Go runtime's
// netpoll is.
//
// Each poll of a task starts with a budget of [DefaultBudget] operations
// ([WithBudget] changes it). Every I/O poll, channel operation and lock
// acquisition in this module spends one unit, and a read or write spends
// one more per 2 KiB it moved; once the budget is spent
// they wake the task and report pending, so the task yields and the
// others run. A connection whose peer never pauses, or a channel that
// always holds a value, cannot starve its executor, and no hand-written
// "yield every n iterations" is needed. A task whose poll spent half its
// budget or more is busy: it waits behind the tasks that are not, which
// get served first, and busy tasks get one poll after each batch of those
// (see [LocalExecutor]), so a fresh connection is not queued behind a
// round of bulk transfers.
//
// [LocalExecutor.Tasks] and [Executor.Tasks] list an executor's live tasks
// (id, state, polls and what each waits on: a timer and its deadline, a
// socket and its addresses, a channel, a lock, a child task), and
// DumpTasks prints them, one line per task, for a program that hangs.
//
// # Tasks and executors
//
// [SpawnOn] turns a future into a task on an executor and returns a typed
// handle, [*Task], which is itself a future of the output. A
// [LocalExecutor] runs its tasks on the one goroutine that drives it, in the
// order they were woken (busy tasks behind the others), so a program runs
// the same way every time. An
// [Executor] is driven by any number of goroutines calling [Run], or
// started with [Executor.Start] and stopped with [Executor.Shutdown]; each
// worker has a bounded local queue and steals from the others when idle.
// [Spawn] uses a global Executor started on first use. [BlockOn] runs one
// future to completion on the calling goroutine.
//
// # Costs
//
// A task is one allocation holding the runtime's bookkeeping, the future (the
// value passed to SpawnOn, stored inline) and its output. A future passed
// as a pointer is its own allocation besides. Waking, scheduling and polling
// allocate nothing. An idle process makes no wake-ups: a parked driver
// waits in the poller, timers arm one alarm per driver, and the reactor's
// fallback goroutine sleeps while anyone drives the reactor and exits when
// no descriptor is registered.
package smol
