package process

import (
	"sync"
	"syscall"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
	"github.com/smolgo/smol/signal"
)

// Without a pidfd (Linux before 5.3, macOS, the BSDs), exits are learnt
// from SIGCHLD, through package signal: one stream for the process, open
// while any child without a pidfd is unreaped. SIGCHLD says that some
// child changed state, not which, and the kernel merges SIGCHLDs that
// arrive close together; so every waiter tries wait4(pid, WNOHANG) on its
// own child after each one.
//
// Every waiter listens both to the stream and to a broadcast event. The
// stream gives each SIGCHLD to one waiter; that waiter notifies the event,
// and every waiter tries wait4 again. No exit is missed: a waiter
// registers with the event before its wait4, the SIGCHLD of an exit that
// wait4 did not see is sent after that wait4, and whoever takes it from
// the stream notifies the event after taking it. The cost: each SIGCHLD
// costs a wait4 per waiting child.
var chld struct {
	mu    sync.Mutex
	users int // unreaped children without a pidfd
	sigs  *signal.Signals
	ev    event.Event // notified after each SIGCHLD taken from sigs
}

// chldAcquire opens the SIGCHLD stream for a child about to be spawned
// without a pidfd.
func chldAcquire() error {
	chld.mu.Lock()
	defer chld.mu.Unlock()
	if chld.users == 0 {
		s, err := signal.Notify(syscall.SIGCHLD)
		if err != nil {
			return err
		}
		chld.sigs = s
	}
	chld.users++
	return nil
}

// chldRelease closes the stream with the last child that needed it.
func chldRelease() {
	chld.mu.Lock()
	defer chld.mu.Unlock()
	chld.users--
	if chld.users == 0 {
		chld.sigs.Close()
		chld.sigs = nil
	}
}

// sigchldWait is one waiter's registrations: with the broadcast event and
// with the SIGCHLD stream.
type sigchldWait struct {
	l    event.Listener
	recv *signal.RecvFuture
}

func (w *sigchldWait) poll(cx *smol.Context, p *proc) (ExitStatus, bool, error) {
	for {
		if !w.l.Listening() {
			w.l.ListenTo(&chld.ev)
		}
		if p.tryWait() {
			w.discard()
			st, _, err := p.result()
			return st, true, err
		}
		if w.recv == nil {
			chld.mu.Lock()
			s := chld.sigs
			chld.mu.Unlock()
			if s == nil {
				continue // p was reaped meanwhile, by another waiter
			}
			w.recv = s.Recv()
		}
		if _, ok, err := w.recv.Poll(cx); ok {
			w.recv = nil
			if err == nil {
				chld.ev.Notify(event.All)
			}
			continue
		}
		if _, ok, _ := w.l.Poll(cx); ok {
			continue // a SIGCHLD was taken by another waiter
		}
		cx.WaitingOn(p, smol.WaitOther)
		return ExitStatus{}, false, nil
	}
}

// discard gives up the registrations: a SIGCHLD wake the receive had
// taken passes to another waiter. A nil w does nothing.
func (w *sigchldWait) discard() {
	if w == nil {
		return
	}
	if w.l.Listening() {
		w.l.Discard()
	}
	if w.recv != nil {
		w.recv.Discard()
		w.recv = nil
	}
}
