package lock

import (
	"fmt"

	"github.com/smolgo/smol"
)

// tryer is a lock future's attempt: it takes the lock, or arranges a wake
// and reports false.
type tryer interface {
	try(cx *smol.Context) bool
}

// acquire is the Poll of every lock future here: it spends a unit of the
// task's budget (see smol.Context.Proceed), makes the attempt, and notes
// the lock for task dumps when the task has to wait.
func acquire(cx *smol.Context, lock fmt.Stringer, f tryer) (struct{}, bool, error) {
	if !cx.Proceed() {
		return struct{}{}, false, nil
	}
	if f.try(cx) {
		return struct{}{}, true, nil
	}
	cx.WaitingOn(lock, smol.WaitLock)
	return struct{}{}, false, nil
}
