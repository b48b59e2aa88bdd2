package channel_test

import (
	"fmt"
	"reflect"
	"runtime"
	"sync"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
)

// pingPong is one side of a ping-pong: it sends then receives (or, if
// recvFirst, receives then sends) n times, reusing its two futures.
type pingPong struct {
	tx        *channel.Sender[int]
	rx        *channel.Receiver[int]
	n         int
	recvFirst bool
	step      int // 0: start send, 1: sending, 2: start recv, 3: receiving
	s         channel.SendFuture[int]
	r         channel.RecvFuture[int]
}

func (p *pingPong) Poll(cx *smol.Context) (struct{}, bool, error) {
	if p.recvFirst && p.step == 0 && p.n > 0 {
		p.step = 2
	}
	for p.n > 0 {
		switch p.step {
		case 0:
			p.s.Reset(p.tx, p.n)
			p.step = 1
		case 1:
			if _, ok, _ := p.s.Poll(cx); !ok {
				return struct{}{}, false, nil
			}
			p.step = 2
			if p.recvFirst {
				p.n--
				p.step = 2
			}
		case 2:
			p.r.Reset(p.rx)
			p.step = 3
		case 3:
			if _, ok, _ := p.r.Poll(cx); !ok {
				return struct{}{}, false, nil
			}
			p.step = 0
			if !p.recvFirst {
				p.n--
			}
		}
	}
	return struct{}{}, true, nil
}

func pingPongTasks(n int) (a, b *pingPong) {
	atx, brx := channel.New[int](1)
	btx, arx := channel.New[int](1)
	return &pingPong{tx: atx, rx: arx, n: n}, &pingPong{tx: btx, rx: brx, n: n, recvFirst: true}
}

// BenchmarkPingPong measures one round trip (two messages) between two
// tasks over two capacity-1 channels, next to the same between two
// goroutines over Go channels.
func BenchmarkPingPong(b *testing.B) {
	b.Run("smol-local", func(b *testing.B) {
		b.ReportAllocs()
		ex := smol.NewLocalExecutor()
		defer ex.Close()
		pa, pb := pingPongTasks(b.N)
		b.ResetTimer()
		ta := smol.SpawnOn(ex, pa)
		tb := smol.SpawnOn(ex, pb)
		smol.Run(ex, smol.Join(ta, tb))
	})
	b.Run("smol-executor-2", func(b *testing.B) {
		b.ReportAllocs()
		ex := smol.NewExecutor()
		pa, pb := pingPongTasks(b.N)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); smol.Run(ex, smol.Never[struct{}]()) }()
		b.ResetTimer()
		ta := smol.SpawnOn(ex, pa)
		tb := smol.SpawnOn(ex, pb)
		smol.Run(ex, smol.Join(ta, tb))
		b.StopTimer()
		ex.Close()
		wg.Wait()
	})
	b.Run("smol-blocking-goroutines", func(b *testing.B) {
		// The blocking forms between two goroutines.
		b.ReportAllocs()
		atx, brx := channel.New[int](1)
		btx, arx := channel.New[int](1)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for range b.N {
				v, _ := brx.RecvBlocking()
				btx.SendBlocking(v)
			}
		}()
		for i := range b.N {
			atx.SendBlocking(i)
			arx.RecvBlocking()
		}
		<-done
	})
	for _, size := range []int{0, 1} {
		name := "go-chan-unbuffered"
		if size == 1 {
			name = "go-chan-cap1"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			ab, ba := make(chan int, size), make(chan int, size)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range b.N {
					ba <- <-ab
				}
			}()
			for i := range b.N {
				ab <- i
				<-ba
			}
			<-done
		})
	}
}

// BenchmarkTrySendRecv is the uncontended cost of one send plus one
// receive that need not wait, next to a buffered Go channel.
func BenchmarkTrySendRecv(b *testing.B) {
	b.Run("smol", func(b *testing.B) {
		b.ReportAllocs()
		tx, rx := channel.New[int](1)
		for i := range b.N {
			tx.TrySend(i)
			rx.TryRecv()
		}
	})
	b.Run("smol-future", func(b *testing.B) {
		b.ReportAllocs()
		tx, rx := channel.New[int](1)
		noop := smol.NewContext(smol.NoopWaker)
		for i := range b.N {
			tx.Send(i).Poll(noop)
			rx.Recv().Poll(noop)
		}
	})
	b.Run("go-chan", func(b *testing.B) {
		b.ReportAllocs()
		ch := make(chan int, 1)
		for i := range b.N {
			ch <- i
			<-ch
		}
	})
}

// BenchmarkMPMC: 4 producers and 4 consumers on a capacity-64 channel,
// blocking forms on goroutines, next to a Go channel. ns/op is per message.
func BenchmarkMPMC(b *testing.B) {
	const p = 4
	b.Run("smol-blocking", func(b *testing.B) {
		b.ReportAllocs()
		tx, rx := channel.New[int](64)
		var wg sync.WaitGroup
		for i := range p {
			s, r := tx, rx
			if i > 0 {
				s, r = tx.Clone(), rx.Clone()
			}
			wg.Add(2)
			go func() {
				defer wg.Done()
				defer s.Close()
				for j := i; j < b.N; j += p {
					s.SendBlocking(j)
				}
			}()
			go func() {
				defer wg.Done()
				for {
					if _, err := r.RecvBlocking(); err != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
	})
	b.Run("go-chan", func(b *testing.B) {
		b.ReportAllocs()
		ch := make(chan int, 64)
		var pw, cw sync.WaitGroup
		for i := range p {
			pw.Add(1)
			cw.Add(1)
			go func() {
				defer pw.Done()
				for j := i; j < b.N; j += p {
					ch <- j
				}
			}()
			go func() {
				defer cw.Done()
				for range ch {
				}
			}()
		}
		pw.Wait()
		close(ch)
		cw.Wait()
	})
}

// BenchmarkFromGo is the cost of a receive from a Go channel that has to
// wait (a helper goroutine is started), next to a goroutine receiving
// directly.
func BenchmarkFromGo(b *testing.B) {
	b.Run("smol-FromGo-waiting", func(b *testing.B) {
		b.ReportAllocs()
		ch := make(chan int)
		go func() {
			for i := range b.N {
				ch <- i
			}
		}()
		for range b.N {
			smol.BlockOn(channel.FromGo(ch))
		}
	})
	b.Run("go-recv", func(b *testing.B) {
		b.ReportAllocs()
		ch := make(chan int)
		go func() {
			for i := range b.N {
				ch <- i
			}
		}()
		for range b.N {
			<-ch
		}
	})
}

// BenchmarkFromGoPending is the cost of starting a pending FromGo receive
// (ns/op) and the memory one holds while pending, its helper goroutine
// included (bytes/pending: growth of heap and stacks in use over 10,000
// pending receives).
func BenchmarkFromGoPending(b *testing.B) {
	const batch = 10000
	ch := make(chan int)
	noop := smol.NewContext(smol.NoopWaker)
	fs := make([]*channel.GoRecvFuture[int], 0, batch)
	measured := false
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	for i := range b.N {
		f := channel.FromGo(ch)
		f.Poll(noop)
		fs = append(fs, f)
		if len(fs) == batch || i == b.N-1 {
			b.StopTimer()
			if !measured && len(fs) == batch {
				runtime.GC()
				runtime.ReadMemStats(&after)
				grown := (after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse)
				b.ReportMetric(float64(grown)/batch, "bytes/pending")
				measured = true
			}
			for _, f := range fs {
				f.Discard()
			}
			fs = fs[:0]
			b.StartTimer()
		}
	}
}

// BenchmarkReflectSelect measures the alternative design for FromGo that
// was not taken: one shared goroutine running reflect.Select over every
// pending receive. Each wake costs one Select over all N cases (plus the
// rebuild of the case list, not counted here), so the cost per received
// value grows with the number of pending receives.
func BenchmarkReflectSelect(b *testing.B) {
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprint("pending=", n), func(b *testing.B) {
			b.ReportAllocs()
			cases := make([]reflect.SelectCase, n)
			chans := make([]chan int, n)
			for i := range cases {
				chans[i] = make(chan int, 1)
				cases[i] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(chans[i])}
			}
			for i := range b.N {
				chans[i%n] <- i
				reflect.Select(cases)
			}
		})
	}
}
