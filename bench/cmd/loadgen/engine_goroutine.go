package main

import (
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smolgo/smol/bench/internal/hist"
)

// runGoroutines runs the ping-pong with one goroutine per connection on
// the standard library's net.Conn: the plain Go client. The main goroutine
// opens and closes the window on the clock and watches for stalls.
func runGoroutines(conns []net.Conn, p *payload, warmup, dur, stall time.Duration, w *window, h *hist.Hist) ([]int64, error) {
	const (
		warming = iota
		measuring
		stopped
	)
	var phase atomic.Int32
	var progress atomic.Int64
	counts := make([]int64, len(conns))
	var errMu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup

	// One goroutine per connection: write, read the echo, verify, count.
	// counts[i] belongs to goroutine i until wg.Wait returns.
	for i, c := range conns {
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			buf := make([]byte, p.size)
			fail := func(err error) {
				if phase.Load() == stopped {
					return // the connection was closed by us
				}
				errMu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("conn %d: %w", i, err)
				}
				errMu.Unlock()
			}
			for seq := uint32(1); phase.Load() != stopped; seq++ {
				m := p.msg(i, seq)
				t := nanotime()
				if _, err := c.Write(m); err != nil {
					fail(err)
					return
				}
				if _, err := readFull(c, buf); err != nil {
					fail(err)
					return
				}
				now := nanotime()
				if !bytes.Equal(buf, m) {
					fail(fmt.Errorf("request %d: echo differs from what was sent", seq))
					return
				}
				progress.Add(1)
				if phase.Load() == measuring {
					h.RecordAtomic(now - t)
					counts[i]++
				}
			}
		}(i, c)
	}

	// Clock: open the window after the warm-up, close it after dur, and
	// give up if no echo completes for stall or a connection failed.
	start := nanotime()
	t0, t1 := start+int64(warmup), start+int64(warmup+dur)
	lastN, lastT := int64(0), start
	var err error
	for {
		time.Sleep(20 * time.Millisecond)
		now := nanotime()
		errMu.Lock()
		err = firstErr
		errMu.Unlock()
		if err != nil {
			break
		}
		if pn := progress.Load(); pn != lastN {
			lastN, lastT = pn, now
		} else if now-lastT > int64(stall) {
			err = fmt.Errorf("no echo completed for %v: server stalled", stall)
			break
		}
		if phase.Load() == warming && now >= t0 {
			w.begin(now)
			phase.Store(measuring)
		} else if phase.Load() == measuring && now >= t1 {
			phase.Store(stopped)
			w.end(now)
			break
		}
	}

	// Stop: closing the connections unblocks every goroutine.
	phase.Store(stopped)
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	return counts, err
}
