package sim_test

import (
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/coro"
	"github.com/smolgo/smol/sim"
)

// go test -run '^$' -bench . -benchmem -count 5 ./sim
//
// BenchmarkTaskSwitches: tasks that yield to each other, with seeded
// choice; a step is one task poll, reported as switches/s.
// BenchmarkVirtualTime: an idle-heavy simulation (ten hosts' interval
// timers firing every second, a little work each) for one virtual hour per
// iteration, reported as virtual/real, the ratio of simulated to real time.

func BenchmarkTaskSwitches(b *testing.B) {
	for _, kind := range []string{"stackless", "coroutine"} {
		b.Run(kind, func(b *testing.B) {
			const tasks = 10
			per := b.N/tasks + 1
			b.ReportAllocs()
			begin := time.Now()
			s, err := sim.Run(sim.Config{Seed: 1, StepLimit: 2*b.N + 100}, func(s *sim.Sim, co *coro.Co) error {
				var ts []smol.Future[int]
				for range tasks {
					if kind == "coroutine" {
						ts = append(ts, coro.Spawn(s.Executor(), func(co *coro.Co) (int, error) {
							for range per {
								co.Yield()
							}
							return 0, nil
						}))
						continue
					}
					n := 0
					ts = append(ts, smol.SpawnOn(s.Executor(), smol.PollFn(func(cx *smol.Context) (int, bool, error) {
						if n++; n < per {
							cx.Waker().Wake()
							return 0, false, nil
						}
						return 0, true, nil
					})))
				}
				_, err := coro.Await(co, smol.JoinAll(ts))
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(s.Steps())/time.Since(begin).Seconds(), "switches/s")
		})
	}
}

func BenchmarkVirtualTime(b *testing.B) {
	b.ReportAllocs()
	var virtual time.Duration
	begin := time.Now()
	for range b.N {
		s, err := sim.Run(sim.Config{Seed: 1, TimeLimit: 2 * time.Hour}, func(s *sim.Sim, co *coro.Co) error {
			for range 10 {
				coro.Spawn(s.Executor(), func(co *coro.Co) (int, error) {
					iv := smol.Interval(time.Second)
					sum := 0
					for {
						if _, err := coro.Await(co, iv); err != nil {
							return 0, err
						}
						sum++ // the little work of an idle service
					}
				}).Detach()
			}
			return co.Sleep(time.Hour)
		})
		if err != nil {
			b.Fatal(err)
		}
		virtual += s.Elapsed()
	}
	b.ReportMetric(float64(virtual)/float64(time.Since(begin)), "virtual/real")
}
