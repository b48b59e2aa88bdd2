//go:build unix && !darwin

package smol_test

import (
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"golang.org/x/sys/unix"
)

// flag is a future that completes once set; set wakes the poller.
type flag struct {
	set   atomic.Bool
	waker atomic.Pointer[smol.Waker]
}

func (f *flag) Poll(cx *smol.Context) (struct{}, bool, error) {
	w := cx.Waker()
	f.waker.Store(&w)
	// The load after the store: a set that ran before the store is seen
	// here, one after finds the waker.
	return struct{}{}, f.set.Load(), nil
}

func (f *flag) fire() {
	f.set.Store(true)
	if w := f.waker.Load(); w != nil {
		(*w).Wake()
	}
}

// registerPipe registers one end of a pipe with the reactor until the
// test ends: a registered FD makes the reactor exist and keeps a parked
// driver waiting in the poller rather than on a channel.
func registerPipe(tb testing.TB) {
	tb.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		tb.Fatal(err)
	}
	fd, err := smol.NewFD(p[0])
	if err != nil {
		unix.Close(p[0])
		unix.Close(p[1])
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		fd.Close()
		unix.Close(p[1])
	})
}

// loadCPUs keeps every CPU busy with spinning goroutines until stop is
// called, as a loaded server would.
func loadCPUs() (stop func()) {
	var done atomic.Bool
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() {
				for range 1000 {
				}
			}
		}()
	}
	return func() { done.Store(true); wg.Wait() }
}

// reportLatency reports the median and p99 of lat in microseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	us := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Microsecond)
	}
	b.ReportMetric(us(0.5), "p50-µs")
	b.ReportMetric(us(0.99), "p99-µs")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkWakeParked measures, with every CPU busy, how long a wake from
// another goroutine takes to reach a BlockOn that is parked in the reactor
// (an FD is registered, so the parked goroutine waits in the poller), and
// the same hand-off between two goroutines over a Go channel. Issue 14's
// goal is a p99 within 10x of the channel's. The waker pauses 100 µs
// before each wake so that the driver has parked.
func BenchmarkWakeParked(b *testing.B) {
	b.Run("blockon", func(b *testing.B) {
		registerPipe(b)
		stop := loadCPUs()
		defer stop()
		lat := make([]time.Duration, 0, b.N)
		var t0 atomic.Int64
		b.ResetTimer()
		for range b.N {
			f := &flag{}
			go func() {
				time.Sleep(100 * time.Microsecond)
				t0.Store(time.Now().UnixNano())
				f.fire()
			}()
			if _, err := smol.BlockOn(smol.Future[struct{}](f)); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Duration(time.Now().UnixNano()-t0.Load()))
		}
		b.StopTimer()
		reportLatency(b, lat)
	})
	b.Run("channel", func(b *testing.B) {
		stop := loadCPUs()
		defer stop()
		lat := make([]time.Duration, 0, b.N)
		var t0 atomic.Int64
		b.ResetTimer()
		for range b.N {
			ch := make(chan struct{})
			go func() {
				time.Sleep(100 * time.Microsecond)
				t0.Store(time.Now().UnixNano())
				ch <- struct{}{}
			}()
			<-ch
			lat = append(lat, time.Duration(time.Now().UnixNano()-t0.Load()))
		}
		b.StopTimer()
		reportLatency(b, lat)
	})
}

// TestStressWakeParkedInPoller: a wake from another goroutine reaches a
// BlockOn parked in the poller whether it comes before the park, during
// it, or while a kick from the previous round is still landing. A lost
// wake hangs the test.
func TestStressWakeParkedInPoller(t *testing.T) {
	registerPipe(t)
	for i := range 3000 {
		f := &flag{}
		go func() {
			// Vary when the wake lands: at once, after a yield, or after
			// the driver has had time to park.
			switch i % 3 {
			case 1:
				runtime.Gosched()
			case 2:
				time.Sleep(20 * time.Microsecond)
			}
			f.fire()
		}()
		if _, err := smol.BlockOn(smol.Future[struct{}](f)); err != nil {
			t.Fatal(err)
		}
	}
}
