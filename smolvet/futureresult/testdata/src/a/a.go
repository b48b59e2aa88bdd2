package a

import (
	"time"

	"github.com/smolgo/smol"
)

type Mutex struct{}

type LockFuture struct{}

func (*LockFuture) Poll(*smol.Context) (struct{}, bool, error) { return struct{}{}, true, nil }

func (*Mutex) Acquire() *LockFuture { return &LockFuture{} }
func (*Mutex) Unlock()              {}

// notAFuture has a Poll of another shape.
type notAFuture struct{}

func (notAFuture) Poll() bool { return true }

func make2() notAFuture { return notAFuture{} }

func f(mu *Mutex) {
	mu.Acquire() // want `call returns a smol future \(\*a.LockFuture\) that is never awaited`
	defer mu.Unlock()
	smol.Sleep(time.Second)                // want `never awaited`
	smol.Ready(1)                          // want `never awaited`
	(smol.Ready(2))                        // want `never awaited`
	defer mu.Acquire()                     // want `deferred call returns a smol future`
	go smol.Sleep(time.Second)             // want `go call returns a smol future`
	smol.SpawnOn(smol.Ready(3))            // want `dropped: a panic in the task is lost`
	smol.SpawnOn(smol.Ready(4)).Detach()   // fine
	_ = mu.Acquire()                       // fine: meant
	smol.BlockOn[time.Time](smol.Sleep(1)) // fine: awaited
	t := smol.Sleep(2)
	_, _ = smol.BlockOn[time.Time](t)
	make2()          // fine: not a future
	_ = (*Mutex)(mu) // a conversion
}
