package channel_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/smolgo/smol/channel"
)

// fuzzInput hands out a fuzz input byte by byte; past its end it reads
// zeros, and done reports when that happened, so a target's loop ends.
type fuzzInput struct{ b []byte }

func (in *fuzzInput) done() bool { return len(in.b) == 0 }

func (in *fuzzInput) byte() byte {
	if len(in.b) == 0 {
		return 0
	}
	c := in.b[0]
	in.b = in.b[1:]
	return c
}

// intn returns a number in [0, n).
func (in *fuzzInput) intn(n int) int { return int(in.byte()) % n }

// fuzzTrace makes the fuzz targets log every step, to read a failing
// input: SMOL_FUZZ_TRACE=1 go test -run FuzzX/input -v.
var fuzzTrace = os.Getenv("SMOL_FUZZ_TRACE") != ""

// The state of a send or receive future in the model of FuzzChannel.
type futState int

const (
	fFresh     futState = iota // made or Reset, not polled since
	fPending                   // polled, pending: waiting for a wake
	fDone                      // ready
	fDiscarded                 // discarded
)

// futureSlot is one send or receive future and its model: the handle it
// was made from, the value it sends, its state, and its own counting
// waker with the count seen at its latest poll.
type futureSlot struct {
	send *channel.SendFuture[int]
	recv *channel.RecvFuture[int]
	h    int // index of its Sender or Receiver
	v    int // the value a send future sends
	st   futState
	w    counter
	seen int32 // w's count after the latest poll
}

// woken reports whether the future was woken since its latest poll.
func (s *futureSlot) woken() bool { return s.w.n.Load() > s.seen }

// chanModel is the model of FuzzChannel: a FIFO slice of the queued values,
// the capacity (0: unbounded), the closed flag, and per handle whether it
// is closed, with the counts of open handles.
type chanModel struct {
	queue          []int
	limit          int
	closed         bool
	txClosed       []bool
	rxClosed       []bool
	txOpen, rxOpen int
	nextValue      int // the next value to send: values are numbered
}

func (m *chanModel) full() bool { return m.limit > 0 && len(m.queue) == m.limit }

// trySend is a send's outcome: nil and the value queued, ErrFull, or a
// SendError with the value.
func (m *chanModel) trySend(h, v int) error {
	switch {
	case m.txClosed[h] || m.closed:
		return &channel.SendError[int]{Value: v}
	case m.full():
		return channel.ErrFull
	}
	m.queue = append(m.queue, v)
	return nil
}

// tryRecv is a receive's outcome: the oldest value, ErrEmpty, or
// ErrClosed once the channel is closed and drained (or the handle closed).
func (m *chanModel) tryRecv(h int) (int, error) {
	switch {
	case m.rxClosed[h]:
		return 0, channel.ErrClosed
	case len(m.queue) > 0:
		v := m.queue[0]
		m.queue = m.queue[1:]
		return v, nil
	case m.closed:
		return 0, channel.ErrClosed
	}
	return 0, channel.ErrEmpty
}

// sameErr reports whether got is the error want: the same sentinel, or a
// *SendError holding the same value.
func sameErr(got, want error) bool {
	var g, w *channel.SendError[int]
	if errors.As(want, &w) {
		return errors.As(got, &g) && g.Value == w.Value && errors.Is(got, channel.ErrClosed)
	}
	return got == want
}

// FuzzChannel drives a bounded (capacity 1..4) or unbounded channel, its
// handles and hand-polled send and receive futures, and the model above,
// through the same operations, and compares them after every step.
//
// The model follows the package documentation. Values leave in the order
// they came. TrySend queues its value, or fails with ErrFull on a full
// bounded channel, or with a *SendError holding the value once the channel
// or the handle is closed; TryRecv takes the oldest value, or fails with
// ErrEmpty, or with ErrClosed once the channel is closed and drained or the
// handle is closed. Clone adds an open handle (even of a closed handle);
// Close of a handle closes it once, and the channel with the last open one
// of its kind; CloseChannel closes the channel and reports whether it did.
//
// A future does what the Try form does when it gets to try: at its first
// poll, and at a poll after a wake. A future that waits was pending and has
// not been woken since, and stays pending when polled. Which waiter a
// change wakes is not documented, so the model takes the wakes from the
// futures' counting wakers, and checks after every step what the package
// does promise about them (a discarded future passes its wake on, so that
// no value is stranded), in this form:
//
//   - a future is woken at most once per wait, and never after it is ready
//     or discarded;
//   - no value is stranded: with the channel open, at least
//     min(pending receives on open handles, queued values) pending
//     receives are woken (a future on a closed handle cannot take a
//     value, but if woken it holds a wake to pass on, so it counts among
//     the woken); with the channel closed, every pending receive is woken
//     (to drain, then fail);
//   - no free space is stranded either: on a bounded open channel at least
//     min(pending sends on open handles, free slots) pending sends are
//     woken, and on a closed one all of them; an unbounded channel never
//     keeps a send waiting.
//
// This covers a discarded future that passes its wake on: if it did not,
// the stranded value (or slot) would break the second (third) rule.
//
// After each step it also compares Len, Cap and IsClosed of every handle,
// and each completed operation's value and error with the model's (values
// are numbered, so one lost, duplicated or reordered shows).
//
// Input: the first byte chooses the capacity (byte % 5, 0 for unbounded);
// then one byte of operation (byte % 16), then its arguments:
//
//	0 TrySend: sender              8 Clone: sender
//	1 TryRecv: receiver            9 Clone: receiver
//	2 Send: slot, sender (new)    10 Close: sender
//	3 Recv: slot, receiver (new)  11 Close: receiver
//	4, 12 poll: send slot         13 CloseChannel: sender or receiver
//	5, 14 poll: receive slot      15 Reset: send or receive slot, handle
//	6 Discard: send slot
//	7 Discard: receive slot
//
// A new future in a slot whose future is pending discards that one first.
func FuzzChannel(f *testing.F) {
	// Capacity 1: two receives wait, a send wakes one, which is discarded
	// and passes the wake on; a send to the full channel fails.
	f.Add([]byte{1, 3, 0, 0, 3, 1, 0, 5, 0, 5, 1, 0, 0, 7, 0, 5, 1, 0, 0, 0, 0, 1, 0})
	// Capacity 2: sends wait on a full channel, receives free them, a
	// CloseChannel fails the one left, the rest drains.
	f.Add([]byte{2, 0, 0, 0, 0, 2, 0, 0, 2, 1, 0, 4, 0, 4, 1, 1, 0, 12, 0, 1, 0, 13, 0, 0, 4, 1, 3, 0, 0, 5, 0, 1, 0})
	// Unbounded: clones, sends through a closed handle, a double Close, a
	// receive woken when the last receiver closes the channel.
	f.Add([]byte{0, 8, 0, 9, 0, 0, 1, 3, 0, 1, 5, 0, 10, 0, 0, 0, 0, 1, 3, 1, 0, 5, 1, 11, 0, 11, 0, 3, 2, 1, 5, 2, 11, 1, 5, 2, 0, 1})
	// Capacity 3: Reset of a waiting receive and of a waiting send, a
	// CloseChannel from a sender, drain.
	f.Add([]byte{3, 3, 0, 0, 5, 0, 15, 1, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 4, 1, 15, 0, 1, 0, 4, 1, 5, 0, 4, 1, 13, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0})
	// Capacity 1: a receive woken for a value through a handle then closed
	// fails and passes the wake to the receive on the clone.
	f.Add([]byte{1, 9, 0, 3, 0, 0, 3, 1, 1, 5, 0, 5, 1, 0, 0, 11, 0, 5, 0, 7, 0, 5, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data}
		m := &chanModel{limit: in.intn(5)}
		var (
			txs   []*channel.Sender[int]
			rxs   []*channel.Receiver[int]
			sends [4]*futureSlot
			recvs [4]*futureSlot
			all   []*futureSlot // every future made, for the wake checks
		)
		if m.limit == 0 {
			tx, rx := channel.NewUnbounded[int]()
			txs, rxs = append(txs, tx), append(rxs, rx)
		} else {
			tx, rx := channel.New[int](m.limit)
			txs, rxs = append(txs, tx), append(rxs, rx)
		}
		m.txClosed, m.rxClosed, m.txOpen, m.rxOpen = []bool{false}, []bool{false}, 1, 1
		// closeChan closes the model's channel and reports whether it did.
		closeChan := func() bool {
			was := m.closed
			m.closed = true
			return !was
		}
		for step := 0; !in.done(); step++ {
			var desc string
			fail := func(format string, args ...any) {
				t.Helper()
				t.Fatalf("step %d, %s: %s", step, desc, fmt.Sprintf(format, args...))
			}
			switch op := in.intn(16); op {
			case 0:
				h := in.intn(len(txs))
				v := m.nextValue
				m.nextValue++
				desc = fmt.Sprintf("TrySend(%d) on sender %d", v, h)
				err := txs[h].TrySend(v)
				if want := m.trySend(h, v); !sameErr(err, want) {
					fail("got %v, model %v", err, want)
				}
			case 1:
				h := in.intn(len(rxs))
				desc = fmt.Sprintf("TryRecv on receiver %d", h)
				v, err := rxs[h].TryRecv()
				if wv, werr := m.tryRecv(h); v != wv || err != werr {
					fail("got %d, %v; model %d, %v", v, err, wv, werr)
				}
			case 2, 3, 15:
				isSend := op == 2 || op == 15 && in.intn(2) == 0
				slot := in.intn(4)
				slots, n := &recvs, len(rxs)
				if isSend {
					slots, n = &sends, len(txs)
				}
				h := in.intn(n)
				old := slots[slot]
				s := &futureSlot{h: h}
				if isSend {
					s.v = m.nextValue
					m.nextValue++
				}
				if op == 15 && old != nil {
					// Reset reuses the future (discarding what it did), with
					// a fresh waker.
					desc = fmt.Sprintf("Reset of slot %d (send %v) to handle %d", slot, isSend, h)
					old.seen = old.w.n.Load()
					if isSend {
						s.send = old.send
						s.send.Reset(txs[h], s.v)
					} else {
						s.recv = old.recv
						s.recv.Reset(rxs[h])
					}
				} else {
					desc = fmt.Sprintf("new future in slot %d (send %v) on handle %d", slot, isSend, h)
					if old != nil && old.st == fPending {
						old.discard()
					}
					if isSend {
						s.send = txs[h].Send(s.v)
					} else {
						s.recv = rxs[h].Recv()
					}
				}
				if old != nil && old.st != fDone {
					old.st = fDiscarded
				}
				slots[slot] = s
				all = append(all, s)
			case 4, 12:
				slot := in.intn(4)
				s := sends[slot]
				if s == nil || s.st == fDone || s.st == fDiscarded {
					continue // a future is not polled after it was ready or discarded
				}
				desc = fmt.Sprintf("poll of send slot %d (value %d, sender %d, %v, woken %v)", slot, s.v, s.h, s.st, s.woken())
				waiting := s.st == fPending && !s.woken()
				_, ok, err := s.send.Poll(cx(&s.w))
				s.seen = s.w.n.Load()
				if waiting {
					if ok {
						fail("ready (%v) while waiting for a wake", err)
					}
					break
				}
				want := m.trySend(s.h, s.v)
				if want == channel.ErrFull {
					if ok {
						fail("ready (%v), model: pending on a full channel", err)
					}
					s.st = fPending
					break
				}
				if !ok || !sameErr(err, want) {
					fail("ready %v, %v; model ready, %v", ok, err, want)
				}
				s.st = fDone
			case 5, 14:
				slot := in.intn(4)
				s := recvs[slot]
				if s == nil || s.st == fDone || s.st == fDiscarded {
					continue
				}
				desc = fmt.Sprintf("poll of receive slot %d (receiver %d, %v, woken %v)", slot, s.h, s.st, s.woken())
				waiting := s.st == fPending && !s.woken()
				v, ok, err := s.recv.Poll(cx(&s.w))
				s.seen = s.w.n.Load()
				if waiting {
					if ok {
						fail("ready (%d, %v) while waiting for a wake", v, err)
					}
					break
				}
				wv, werr := m.tryRecv(s.h)
				if werr == channel.ErrEmpty {
					if ok {
						fail("ready (%d, %v), model: pending on an empty channel", v, err)
					}
					s.st = fPending
					break
				}
				if !ok || v != wv || err != werr {
					fail("ready %v, %d, %v; model ready, %d, %v", ok, v, err, wv, werr)
				}
				s.st = fDone
			case 6, 7:
				slots := &sends
				if op == 7 {
					slots = &recvs
				}
				slot := in.intn(4)
				s := slots[slot]
				if s == nil || s.st == fDiscarded {
					continue
				}
				desc = fmt.Sprintf("Discard of slot %d (send %v, %v)", slot, op == 6, s.st)
				s.discard()
				if s.st != fDone {
					s.st = fDiscarded
				}
			case 8:
				h := in.intn(len(txs))
				if len(txs) == 4 {
					continue
				}
				desc = fmt.Sprintf("Clone of sender %d", h)
				txs = append(txs, txs[h].Clone())
				m.txClosed = append(m.txClosed, false)
				m.txOpen++
			case 9:
				h := in.intn(len(rxs))
				if len(rxs) == 4 {
					continue
				}
				desc = fmt.Sprintf("Clone of receiver %d", h)
				rxs = append(rxs, rxs[h].Clone())
				m.rxClosed = append(m.rxClosed, false)
				m.rxOpen++
			case 10:
				h := in.intn(len(txs))
				desc = fmt.Sprintf("Close of sender %d", h)
				txs[h].Close()
				if !m.txClosed[h] {
					m.txClosed[h] = true
					if m.txOpen--; m.txOpen == 0 {
						closeChan()
					}
				}
			case 11:
				h := in.intn(len(rxs))
				desc = fmt.Sprintf("Close of receiver %d", h)
				rxs[h].Close()
				if !m.rxClosed[h] {
					m.rxClosed[h] = true
					if m.rxOpen--; m.rxOpen == 0 {
						closeChan()
					}
				}
			case 13:
				var got bool
				if in.intn(2) == 0 {
					h := in.intn(len(txs))
					desc = fmt.Sprintf("CloseChannel by sender %d", h)
					got = txs[h].CloseChannel()
				} else {
					h := in.intn(len(rxs))
					desc = fmt.Sprintf("CloseChannel by receiver %d", h)
					got = rxs[h].CloseChannel()
				}
				if want := closeChan(); got != want {
					fail("reported %v, model %v", got, want)
				}
			}
			if fuzzTrace {
				t.Logf("step %d: %s; queue %v, closed %v", step, desc, m.queue, m.closed)
			}
			checkChannel(t, fmt.Sprintf("step %d, %s", step, desc), m, txs, rxs, &sends, &recvs, all)
		}
	})
}

// discard discards the slot's future; from then on its waker must not be
// woken.
func (s *futureSlot) discard() {
	s.seen = s.w.n.Load()
	if s.send != nil {
		s.send.Discard()
	} else {
		s.recv.Discard()
	}
}

// checkChannel compares the handles with the model and checks the wake
// rules of FuzzChannel.
func checkChannel(t *testing.T, where string, m *chanModel, txs []*channel.Sender[int], rxs []*channel.Receiver[int], sends, recvs *[4]*futureSlot, all []*futureSlot) {
	t.Helper()
	wantCap := m.limit
	if wantCap == 0 {
		wantCap = -1
	}
	for h, tx := range txs {
		if tx.Len() != len(m.queue) || tx.Cap() != wantCap || tx.IsClosed() != (m.closed || m.txClosed[h]) {
			t.Fatalf("%s: sender %d: Len %d, Cap %d, IsClosed %v; model %d, %d, %v", where, h,
				tx.Len(), tx.Cap(), tx.IsClosed(), len(m.queue), wantCap, m.closed || m.txClosed[h])
		}
	}
	for h, rx := range rxs {
		if rx.Len() != len(m.queue) || rx.Cap() != wantCap || rx.IsClosed() != (m.closed || m.rxClosed[h]) {
			t.Fatalf("%s: receiver %d: Len %d, Cap %d, IsClosed %v; model %d, %d, %v", where, h,
				rx.Len(), rx.Cap(), rx.IsClosed(), len(m.queue), wantCap, m.closed || m.rxClosed[h])
		}
	}
	// At most one wake per wait, none once ready or discarded.
	for i, s := range all {
		n := s.w.n.Load()
		if s.st == fPending && n > s.seen+1 || s.st != fPending && n != s.seen {
			t.Fatalf("%s: future #%d (%v) woken %d times since its latest poll", where, i, s.st, n-s.seen)
		}
	}
	// No value, and no free slot, stranded while futures wait for one.
	// Only futures on open handles can use one, but a woken future on a
	// closed handle counts too: it holds a wake, which it must pass on when
	// its task polls it. On a closed channel every pending future must be
	// woken.
	count := func(slots *[4]*futureSlot, handleClosed []bool) (pending, woken, pendingOpen int) {
		for _, s := range slots {
			if s == nil || s.st != fPending {
				continue
			}
			pending++
			if s.woken() {
				woken++
			}
			if !handleClosed[s.h] {
				pendingOpen++
			}
		}
		return pending, woken, pendingOpen
	}
	pr, wr, pro := count(recvs, m.rxClosed)
	ps, ws, pso := count(sends, m.txClosed)
	switch {
	case m.closed && (wr < pr || ws < ps):
		t.Fatalf("%s: channel closed, %d of %d pending receives and %d of %d pending sends woken", where, wr, pr, ws, ps)
	case !m.closed && wr < min(pro, len(m.queue)):
		t.Fatalf("%s: %d values queued, %d pending receives on open handles, only %d receives woken", where, len(m.queue), pro, wr)
	case m.limit == 0 && ps > 0:
		t.Fatalf("%s: %d sends wait on an unbounded channel", where, ps)
	case !m.closed && m.limit > 0 && ws < min(pso, m.limit-len(m.queue)):
		t.Fatalf("%s: %d slots free, %d pending sends on open handles, only %d sends woken", where, m.limit-len(m.queue), pso, ws)
	}
}

func (st futState) String() string {
	return [...]string{"fresh", "pending", "done", "discarded"}[st]
}
