// Package smol is a small async runtime: futures, tasks that cost bytes
// rather than kilobytes, executors you own, and a pool for blocking calls.
//
// # The poll contract
//
// Every piece of the runtime keeps one contract, stated here once.
//
// A [Future] is polled with a [*Context] that carries a [Waker]. Poll either
// returns its result with ok == true (ready), or returns ok == false
// (pending) after it has arranged for the context's waker to be woken once
// progress is possible. A pending future that arranged no wake is a bug: the
// task that awaits it hangs. The same convention holds for every poll-style
// method in this module: a boolean result named ok that is false means
// pending, the wake has been arranged, and the other results are zero. I/O
// poll methods return (n int, ok bool, err error) in that order.
//
// Waking is cheap and idempotent, safe from any goroutine, and never runs
// user code inline: it only marks a task runnable. A waker may be woken
// after its task finished; that is a no-op. A future is not polled again
// after it returned ready. Polls are short: they never block, sleep or wait
// on a Go channel. Blocking work goes to the blocking pool ([Unblock]).
//
// A future that can fail reports the failure as part of its value, or, like
// [Task], is ready with a zero value and explains why through an Err() error
// method; [Wait] returns that error. A future dropped before it is ready may
// need to give up a registration (a place in a lock's queue, a wake owed to
// another receiver): such futures implement [Discarder], and tasks and
// combinators call it for them.
//
// The *Context passed to Poll is valid only during that call. A future that
// needs to wake its task later keeps cx.Waker(), never cx itself. The Context
// is unrelated to the standard library's context.Context; [Wait] and
// [ContextDone] bridge the two.
//
// # Tasks and executors
//
// [SpawnOn] turns a future into a task on an executor and returns a typed
// handle, [*Task], which is itself a future of the output. A
// [LocalExecutor] runs its tasks on the one goroutine that drives it, in the
// order they were woken, so a program runs the same way every time. An
// [Executor] is driven by any number of goroutines calling [Run]; each has a
// bounded local queue and steals from the others when idle. [Spawn] uses a
// global Executor started on first use. [BlockOn] runs one future to
// completion on the calling goroutine.
//
// # Costs
//
// A task is one allocation holding the runtime's bookkeeping, the future (the
// value passed to SpawnOn, stored inline) and its output. A future passed
// as a pointer is its own allocation besides. Waking, scheduling and polling
// allocate nothing.
package smol
