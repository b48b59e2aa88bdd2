package smol

import (
	"fmt"
	"math"
)

// Context is what a future is polled with: the waker of the task being
// polled, the driver of its executor (clock and timers), the task's
// cooperative budget, and a note of what the task waits on, for task dumps.
// It is valid only during the Poll call that received it: a future that
// needs to wake its task later keeps cx.Waker(), never cx itself.
type Context struct {
	waker  Waker
	drv    *Driver
	budget int32
	spent  bool // Proceed refused: the executor polls the reactor next
	waitOp WaitOp
	waitOn fmt.Stringer
}

// unlimited is the budget of a poll that has no one to be fair to: BlockOn
// and hand-made contexts.
const unlimited = math.MaxInt32

// NewContext returns a Context whose Waker is w, for polling a future by
// hand, as a test or a custom executor does. Its driver is the process's
// default driver, on the real clock; its budget is unlimited.
func NewContext(w Waker) *Context {
	return &Context{waker: w, drv: defaultDriver(), budget: unlimited}
}

// Waker returns the waker of the task being polled. Keep it, not cx, to wake
// the task after Poll returns.
func (cx *Context) Waker() Waker { return cx.waker }

// Driver returns the driver of the executor polling the future: its clock
// and timers. Timers bind to it on their first poll.
func (cx *Context) Driver() *Driver { return cx.drv }

// Proceed spends one unit of the task's cooperative budget and reports
// whether the task may go on. Each poll of a task starts with a budget
// ([DefaultBudget] unless the executor was given [WithBudget]); every I/O
// poll, channel operation and lock acquisition of this module calls Proceed
// first, and an FD read or write also spends a unit per 2 KiB it moved, so
// that fairness counts work, not calls. Once the budget is spent Proceed
// wakes the task and returns false,
// and the caller must return pending at once: the task then goes to the
// back of its executor's queue, so a task whose resources are always ready
// does not starve the others. Futures of your own that can complete many
// times in one poll should call it too.
func (cx *Context) Proceed() bool {
	if cx.budget > 0 {
		cx.budget--
		return true
	}
	cx.budget = 0
	cx.spent = true
	cx.waker.Wake()
	return false
}

// bytesPerUnit is how many bytes of I/O cost one unit of budget on top of
// the operation's own unit: fairness is measured in work, not in calls, so
// a task moving 64 KiB reads yields after a few hundred KiB, not after
// DefaultBudget of them, while a task of small messages is unaffected.
const bytesPerUnit = 2 << 10

// spendBytes charges an I/O operation's size to the budget; a budget
// spent this way makes the next Proceed refuse.
func (cx *Context) spendBytes(n int) {
	if n >= bytesPerUnit {
		cx.budget -= int32(min(n/bytesPerUnit, unlimited))
	}
}

// yielded reports, and clears, whether the poll just made ran out of
// budget, or spent half of it (see busy). A task that spends its budget may
// be the only runnable one, on an executor that checks I/O only every 61
// polls: the executor checks it now instead, so that tasks waiting for I/O
// get their turn after one budget's worth of work, not 61.
func (cx *Context) yielded() bool {
	s := cx.spent
	cx.spent = false
	return s
}

// WaitingOn notes, for task dumps, that the task being polled is about to
// return pending because it waits for op on r. r's String method is called
// only when a dump is taken, so it costs nothing here; it must be safe to
// call from another goroutine. A future calls it just before it returns
// pending; the last call of a poll wins.
func (cx *Context) WaitingOn(r fmt.Stringer, op WaitOp) {
	cx.waitOn, cx.waitOp = r, op
}

// inherit prepares a child context, which has its own waker, to poll on
// behalf of cx: the same driver and the budget cx has left.
func (cx *Context) inherit(parent *Context) {
	cx.drv, cx.budget, cx.waitOn = parent.drv, parent.budget, nil
}

// settle charges what a child context spent to cx, and takes over what it
// waits on.
func (cx *Context) settle(child *Context) {
	cx.budget, cx.spent = child.budget, cx.spent || child.spent
	if child.waitOn != nil {
		cx.waitOn, cx.waitOp = child.waitOn, child.waitOp
	}
}

// WaitOp is what a waiting task waits to do, as [Context.WaitingOn] records
// it and task dumps show it.
type WaitOp uint8

// The operations a task can wait for.
const (
	WaitOther    WaitOp = iota // anything else; the resource's description says what
	WaitRead                   // readability of a descriptor, or a read
	WaitWrite                  // writability, or a write
	WaitAccept                 // an incoming connection
	WaitTimer                  // a timer's deadline
	WaitRecv                   // a value from a channel
	WaitSend                   // room in a channel
	WaitLock                   // a lock, a semaphore, a barrier
	WaitEvent                  // a notification
	WaitTask                   // another task's completion
	WaitBlocking               // a call on the blocking pool
)

var waitOpNames = [...]string{"waiting on", "read", "write", "accept", "timer", "recv", "send", "lock", "event", "join", "blocking call"}

// String returns a short verb for op, such as "read" or "recv".
func (op WaitOp) String() string {
	if int(op) < len(waitOpNames) {
		return waitOpNames[op]
	}
	return fmt.Sprintf("WaitOp(%d)", uint8(op))
}
