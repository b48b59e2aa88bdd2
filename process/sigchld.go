package process

import (
	"os"
	ossignal "os/signal"
	"sync"
	"syscall"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
)

// Without a pidfd (Linux before 5.3, macOS, the BSDs), exits are learnt
// from SIGCHLD. SIGCHLD says that some child changed state, not which, and
// the kernel merges SIGCHLDs that arrive close together; so each one is a
// broadcast: every waiter tries wait4(pid, WNOHANG) on its own child again.
//
// The broadcast is made by one goroutine for the process, running while
// any child without a pidfd is unreaped: it receives SIGCHLD from
// os/signal and notifies an event that every waiter listens to. It must
// not be left to a waiting task: a task whose executor is busy or not
// being driven would hold up every other waiter. No exit is missed: a
// waiter listens before its wait4, the SIGCHLD of an exit that wait4 did
// not see arrives after that wait4, and the goroutine notifies after it
// received the signal. Merged or dropped SIGCHLDs lose nothing, since one
// notification makes every waiter look. The cost: each SIGCHLD costs a
// wait4 per waiting child.
var chld struct {
	mu    sync.Mutex
	users int            // unreaped children without a pidfd
	ch    chan os.Signal // os/signal sends SIGCHLD here
	done  chan struct{}  // closed to stop the goroutine
	ev    event.Event    // notified after each SIGCHLD
}

// chldAcquire makes sure the goroutine runs, for a child just spawned
// without a pidfd.
func chldAcquire() {
	chld.mu.Lock()
	defer chld.mu.Unlock()
	if chld.users == 0 {
		ch, done := make(chan os.Signal, 1), make(chan struct{})
		chld.ch, chld.done = ch, done
		ossignal.Notify(ch, syscall.SIGCHLD)
		go broadcastSIGCHLD(ch, done)
	}
	chld.users++
}

// chldRelease stops the goroutine with the last child that needed it.
func chldRelease() {
	chld.mu.Lock()
	defer chld.mu.Unlock()
	chld.users--
	if chld.users == 0 {
		ossignal.Stop(chld.ch)
		close(chld.done)
		chld.ch, chld.done = nil, nil
	}
}

func broadcastSIGCHLD(ch <-chan os.Signal, done <-chan struct{}) {
	for {
		select {
		case <-ch:
			chld.ev.Notify(event.All)
		case <-done:
			return
		}
	}
}

// sigchldWait is one waiter's registration with the broadcast.
type sigchldWait struct {
	l event.Listener
}

func (w *sigchldWait) poll(cx *smol.Context, p *proc) (ExitStatus, bool, error) {
	for {
		// Listen, then look (see above), then wait.
		if !w.l.Listening() {
			w.l.ListenTo(&chld.ev)
		}
		if p.tryWait() {
			w.discard()
			st, _, err := p.result()
			return st, true, err
		}
		if _, ok, _ := w.l.Poll(cx); ok {
			continue // a SIGCHLD came: look again
		}
		cx.WaitingOn(p, smol.WaitOther)
		return ExitStatus{}, false, nil
	}
}

// discard gives up the registration. A nil w does nothing.
func (w *sigchldWait) discard() {
	if w != nil && w.l.Listening() {
		w.l.Discard()
	}
}
