package lock_test

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/smolgo/smol/lock"
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

// The state of an acquire future in the model of FuzzSemaphore.
type acqState int

const (
	aFresh     acqState = iota // made or Reset, not polled since
	aQueued                    // in the line
	aGranted                   // handed its permits, not yet polled
	aDone                      // ready: holds its permits
	aDiscarded                 // discarded
)

// semModel is the model of FuzzSemaphore: the free permits, the line of
// waiting futures (oldest first), and per future its request, its state
// and the waker of its latest poll; per waker, its wake count.
type semModel struct {
	avail int64
	line  []int // futures waiting, oldest first
	n     []int64
	state []acqState
	waker []int // -1 if none
	wakes [4]int32
}

// grant serves the line from the front while the first one's request
// fits, waking each served future's waker.
func (m *semModel) grant() {
	for len(m.line) > 0 && m.n[m.line[0]] <= m.avail {
		i := m.line[0]
		m.line = m.line[1:]
		m.avail -= m.n[i]
		m.state[i] = aGranted
		if m.waker[i] >= 0 {
			m.wakes[m.waker[i]]++
			m.waker[i] = -1
		}
	}
}

// discard gives up future i: a queued one leaves the line, a granted one
// gives its permits back, and then the line is served again; a fresh or
// ready one changes nothing.
func (m *semModel) discard(i int) {
	st := m.state[i]
	m.state[i], m.waker[i] = aDiscarded, -1
	switch st {
	case aQueued:
		m.line = slices.DeleteFunc(m.line, func(j int) bool { return j == i })
	case aGranted:
		m.avail += m.n[i]
	default:
		return
	}
	m.grant()
}

// FuzzSemaphore drives a Semaphore, its acquire futures and four counting
// wakers, and the model above, through the same operations, and compares
// them after every step.
//
// The model is the Semaphore's documentation: strictly first come, first
// served. TryAcquire(n) succeeds if no one waits and n permits are free.
// A future's first poll takes its permits at once on the same condition,
// and otherwise joins the back of the line; a poll of a queued future is
// pending and keeps its waker; a poll of a granted one is ready. Release
// adds permits, then the front of the line is served while its request
// fits (so a large request at the front holds back smaller ones behind it),
// each served future's waker woken once. Discard of a queued future leaves
// the line, of a granted one returns its permits, and either way the line
// is served again; of a fresh or ready one does nothing. Reset is Discard
// followed by a fresh request.
//
// After each step it compares the operation's result (TryAcquire's
// report, each poll's readiness), the free permits and the length of the
// line (through String), and every waker's wake count. Fairness is then
// checked step by step: a future is ready only when the model, serving
// strictly in order, says so.
//
// Input: the first byte is the initial permits (0..4); then one byte of
// operation (byte % 8), then its arguments:
//
//	0 Acquire: n in 0..4 (a new future, at most 10)
//	1 poll: future, waker
//	2 Discard: future
//	3 Reset: future, n
//	4 TryAcquire: n
//	5 Release: n in 0..5
//	6, 7 poll (more opcodes, to poll more often)
func FuzzSemaphore(f *testing.F) {
	// A big request at the front holds back a small one; a discard lets it through.
	f.Add([]byte{1, 0, 3, 0, 1, 1, 0, 0, 1, 1, 1, 4, 1, 5, 1, 2, 0, 1, 1, 2})
	// Release grants several at once; a granted future discarded gives back.
	f.Add([]byte{0, 0, 1, 0, 2, 0, 1, 1, 0, 0, 1, 1, 1, 1, 2, 2, 5, 4, 2, 1, 6, 2, 3, 4, 0, 7, 0, 3})
	// Reset of a queued future, Acquire(0) behind a waiter, TryAcquire(0).
	f.Add([]byte{2, 0, 4, 1, 0, 1, 0, 0, 1, 1, 3, 4, 0, 1, 0, 2, 3, 1, 1, 4, 0, 5, 3, 6, 1, 3})
	f.Fuzz(func(t *testing.T, data []byte) {
		in := &fuzzInput{data}
		m := &semModel{avail: int64(in.intn(5))}
		s := lock.NewSemaphore(m.avail)
		var (
			wakers [4]counter
			fs     []*lock.AcquireFuture
		)
		for step := 0; !in.done(); step++ {
			var desc string
			op := in.intn(8)
			if op != 0 && op != 4 && op != 5 && len(fs) == 0 {
				continue
			}
			pick := func() int { return in.intn(len(fs)) }
			switch op {
			case 0:
				if len(fs) == 10 {
					continue
				}
				n := int64(in.intn(5))
				fs = append(fs, s.Acquire(n))
				m.n, m.state, m.waker = append(m.n, n), append(m.state, aFresh), append(m.waker, -1)
				desc = fmt.Sprintf("Acquire(%d) #%d", n, len(fs)-1)
			case 1, 6, 7:
				i, w := pick(), in.intn(4)
				if m.state[i] == aDone || m.state[i] == aDiscarded {
					continue // a future is not polled after it was ready or discarded
				}
				desc = fmt.Sprintf("poll #%d (%d permits) with waker %d", i, m.n[i], w)
				var want bool
				switch m.state[i] {
				case aFresh:
					if len(m.line) == 0 && m.avail >= m.n[i] {
						m.avail -= m.n[i]
						want = true
					} else {
						m.line = append(m.line, i)
						m.state[i] = aQueued
					}
				case aGranted:
					want = true
				}
				if want {
					m.state[i], m.waker[i] = aDone, -1
				} else {
					m.waker[i] = w
				}
				_, ok, err := fs[i].Poll(cx(&wakers[w]))
				if ok != want || err != nil {
					t.Fatalf("step %d, %s: ready %v (err %v), model %v", step, desc, ok, err, want)
				}
			case 2:
				i := pick()
				if m.state[i] == aDiscarded {
					continue // Discard is called at most once
				}
				desc = fmt.Sprintf("Discard #%d", i)
				fs[i].Discard()
				m.discard(i)
			case 3:
				i, n := pick(), int64(in.intn(5))
				desc = fmt.Sprintf("Reset(#%d, %d)", i, n)
				fs[i].Reset(s, n)
				m.discard(i)
				m.n[i], m.state[i], m.waker[i] = n, aFresh, -1
			case 4:
				n := int64(in.intn(5))
				desc = fmt.Sprintf("TryAcquire(%d)", n)
				want := len(m.line) == 0 && m.avail >= n
				if want {
					m.avail -= n
				}
				if got := s.TryAcquire(n); got != want {
					t.Fatalf("step %d, %s: %v, model %v", step, desc, got, want)
				}
			case 5:
				n := int64(in.intn(6))
				desc = fmt.Sprintf("Release(%d)", n)
				s.Release(n)
				m.avail += n
				m.grant()
			}
			if fuzzTrace {
				t.Logf("step %d: %s; free %d, line %v", step, desc, m.avail, m.line)
			}
			want := fmt.Sprintf("lock.Semaphore (%d permits free, %d waiting)", m.avail, len(m.line))
			if got := s.String(); got != want {
				t.Fatalf("step %d, %s: %q, model %q", step, desc, got, want)
			}
			for w := range wakers {
				if got := wakers[w].n.Load(); got != m.wakes[w] {
					t.Fatalf("step %d, %s: waker %d woken %d times, model %d", step, desc, w, got, m.wakes[w])
				}
			}
		}
	})
}
