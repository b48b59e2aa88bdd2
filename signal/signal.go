package signal

import (
	"errors"
	"fmt"
	"os"
	ossignal "os/signal"
	"reflect"
	"strings"
	"sync"
	"syscall"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/event"
)

// ErrClosed is the error of Recv on a stream that was closed.
var ErrClosed = errors.New("signal: stream closed")

// chanSize is the room in each stream's Go channel between os/signal and
// the dispatching goroutine; see the package documentation.
const chanSize = 64

// Signals is a stream of incoming signals, created by Notify. Recv returns
// a future of the next one. Any number of tasks may receive from one stream
// at once; each signal goes to one of them. Close it when done: until then
// the signals it was created for keep their os/signal registration (so a
// SIGINT, say, does not end the program).
type Signals struct {
	c    chan os.Signal // os/signal sends here; the dispatcher receives
	sigs []os.Signal    // what the stream was created for, for String

	mu     sync.Mutex // guards queue and closed
	queue  []os.Signal
	head   int // queue[head:] is waiting to be received
	closed bool
	ev     event.Event // receivers wait here; one notification per signal
}

// Notify returns a stream of the given signals, registered with os/signal
// before it returns: every such signal the process receives from then on
// until Close is queued on the stream. It fails if sigs is empty (os/signal
// would relay every signal, the runtime's own preemption signal SIGURG
// among them: name the ones you want), or if one of them is not a
// syscall.Signal that can be caught: SIGKILL and SIGSTOP cannot.
func Notify(sigs ...os.Signal) (*Signals, error) {
	if len(sigs) == 0 {
		return nil, errors.New("signal: Notify needs at least one signal")
	}
	for _, sig := range sigs {
		if err := checkSignal(sig); err != nil {
			return nil, err
		}
	}
	s := &Signals{c: make(chan os.Signal, chanSize), sigs: append([]os.Signal(nil), sigs...)}
	// Register with the dispatcher first, so that it receives from s.c as
	// soon as os/signal may send to it.
	disp.add(s)
	ossignal.Notify(s.c, sigs...)
	return s, nil
}

// checkSignal tells whether sig can be caught.
func checkSignal(sig os.Signal) error {
	ss, ok := sig.(syscall.Signal)
	if !ok {
		return fmt.Errorf("signal: %v (%T) is not a syscall.Signal", sig, sig)
	}
	if ss <= 0 || ss >= 65 {
		return fmt.Errorf("signal: %d is not a signal number", int(ss))
	}
	if ss == syscall.SIGKILL || ss == syscall.SIGSTOP {
		return fmt.Errorf("signal: %v cannot be caught", ss)
	}
	return nil
}

// Close stops the stream: its signals are unregistered from os/signal
// (a signal no other registration wants goes back to its default action),
// tasks waiting in Recv are woken and fail with ErrClosed, and so does every
// later Recv; signals queued and not yet received are dropped. Closing twice
// returns ErrClosed.
func (s *Signals) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.queue, s.head = nil, 0
	s.mu.Unlock()
	// After Stop returns, os/signal sends nothing more to s.c.
	ossignal.Stop(s.c)
	disp.remove(s)
	s.ev.Notify(event.All)
	return nil
}

// deliver queues sig and wakes one receiver. A signal that comes after
// Close is dropped.
func (s *Signals) deliver(sig os.Signal) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.queue = append(s.queue, sig)
	s.mu.Unlock()
	s.ev.NotifyAdditional(1)
}

// take returns the next queued signal, or reports the stream closed.
func (s *Signals) take() (sig os.Signal, ok, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, true
	}
	if s.head == len(s.queue) {
		return nil, false, false
	}
	sig = s.queue[s.head]
	s.queue[s.head] = nil
	s.head++
	if s.head == len(s.queue) {
		s.queue, s.head = s.queue[:0], 0
	}
	return sig, true, false
}

// Recv returns a future of the next signal of the stream, which fails with
// ErrClosed once the stream is closed. The future is a smol.Discarder: a
// receive dropped after it was woken for a signal passes the wake on to
// another receiver, and the signal stays queued.
func (s *Signals) Recv() *RecvFuture { return &RecvFuture{s: s} }

// Signals returns the signals the stream was created for.
func (s *Signals) Signals() []os.Signal { return append([]os.Signal(nil), s.sigs...) }

// String describes the stream for task dumps: "signals [interrupt terminated]".
func (s *Signals) String() string {
	names := make([]string, len(s.sigs))
	for i, sig := range s.sigs {
		names[i] = sig.String()
	}
	return "signals [" + strings.Join(names, " ") + "]"
}

// RecvFuture is a receive from a Signals stream in progress: a
// smol.Future of the signal. It spends one unit of the task's cooperative
// budget per poll, as channel receives do.
type RecvFuture struct {
	s *Signals
	l event.Listener
}

// Poll is ready with the next signal, or fails with ErrClosed.
func (f *RecvFuture) Poll(cx *smol.Context) (os.Signal, bool, error) {
	if !cx.Proceed() {
		return nil, false, nil
	}
	for {
		// Check, listen, re-check (see package event): a signal queued
		// after the check notifies the listener.
		sig, ok, closed := f.s.take()
		if ok || closed {
			if f.l.Listening() {
				f.l.Discard()
			}
			if closed {
				return nil, true, ErrClosed
			}
			return sig, true, nil
		}
		if !f.l.Listening() {
			f.l.ListenTo(&f.s.ev)
			continue
		}
		if _, ok, _ := f.l.Poll(cx); ok {
			continue // notified, and consumed: look again
		}
		cx.WaitingOn(f.s, smol.WaitRecv)
		return nil, false, nil
	}
}

// Discard gives up the receive: a notification it had received and not
// used goes to another receiver of the stream.
func (f *RecvFuture) Discard() {
	if f.l.Listening() {
		f.l.Discard()
	}
}

// disp is the dispatcher: the process's one goroutine that moves signals
// from the streams' Go channels to their queues. It runs while at least
// one stream is open.
var disp dispatcher

type dispatcher struct {
	mu      sync.Mutex
	streams []*Signals
	running bool
	changed chan struct{} // a token when streams changed; capacity 1
}

// add registers s and starts the goroutine if it is not running.
func (d *dispatcher) add(s *Signals) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.streams = append(d.streams, s)
	if d.changed == nil {
		d.changed = make(chan struct{}, 1)
	}
	if !d.running {
		d.running = true
		go d.run()
		return
	}
	d.kick()
}

// remove unregisters s; the goroutine exits when none is left.
func (d *dispatcher) remove(s *Signals) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, t := range d.streams {
		if t == s {
			d.streams = append(d.streams[:i], d.streams[i+1:]...)
			break
		}
	}
	d.kick()
}

// kick tells the goroutine to rebuild its select; d.mu is held.
func (d *dispatcher) kick() {
	select {
	case d.changed <- struct{}{}:
	default:
	}
}

// run receives from every open stream's channel and delivers what it gets.
// It rebuilds its select cases only when the set of streams changed.
func (d *dispatcher) run() {
	var cases []reflect.SelectCase
	var streams []*Signals
	rebuild := true
	for {
		if rebuild {
			d.mu.Lock()
			if len(d.streams) == 0 {
				// Exit under the lock: an add that comes next sees
				// running false and starts a new goroutine.
				d.running = false
				d.mu.Unlock()
				return
			}
			streams = append(streams[:0], d.streams...)
			changed := d.changed
			d.mu.Unlock()
			cases = append(cases[:0], reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(changed)})
			for _, s := range streams {
				cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.c)})
			}
			rebuild = false
		}
		i, v, _ := reflect.Select(cases)
		if i == 0 {
			rebuild = true
			continue
		}
		// os/signal never closes a channel, so v is a signal.
		streams[i-1].deliver(v.Interface().(os.Signal))
	}
}
