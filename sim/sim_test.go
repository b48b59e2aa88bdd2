package sim_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
	"github.com/smolgo/smol/coro"
	"github.com/smolgo/smol/lock"
	"github.com/smolgo/smol/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// workload is a body that exercises the scheduler: workers that yield,
// sleep, and pass values through a channel and a lock.
func workload(s *sim.Sim, co *coro.Co) error {
	ex := s.Executor()
	tx, rx := channel.New[int](2)
	var mu lock.Mutex
	total := 0
	var ws []smol.Future[int]
	for w := range 8 {
		ws = append(ws, coro.Spawn(ex, func(co *coro.Co) (int, error) {
			for i := range 10 {
				switch (w + i) % 4 {
				case 0:
					co.Yield()
				case 1:
					if err := co.Sleep(time.Duration(w+1) * time.Millisecond); err != nil {
						return 0, err
					}
				case 2:
					if err := coro.Send(co, tx, w*100+i); err != nil {
						return 0, err
					}
				case 3:
					co.Lock(&mu)
					total++
					co.Yield()
					mu.Unlock()
				}
			}
			return w, nil
		}))
	}
	drained := coro.Spawn(ex, func(co *coro.Co) (int, error) {
		n := 0
		for range 8 * 10 / 4 {
			if _, err := coro.Recv(co, rx); err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	})
	if _, err := coro.Await(co, smol.JoinAll(ws)); err != nil {
		return err
	}
	_, err := coro.Await(co, drained)
	s.Tracef("total %d", total)
	return err
}

func traceOf(t *testing.T, seed uint64) string {
	t.Helper()
	s, err := sim.Run(sim.Config{Seed: seed, FullTrace: true}, workload)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(s.Trace(), "\n")
}

// TestSameSeedSameTrace: a seed replays exactly, 100 times.
func TestSameSeedSameTrace(t *testing.T) {
	for _, seed := range []uint64{0, 1, 42} {
		first := traceOf(t, seed)
		if strings.Count(first, "\n") < 100 {
			t.Fatalf("seed %d: a trace of %d lines means nothing", seed, strings.Count(first, "\n"))
		}
		for i := range 100 {
			if got := traceOf(t, seed); got != first {
				t.Fatalf("seed %d, run %d: the trace differs", seed, i+2)
			}
		}
	}
}

// TestDifferentSeedsDifferentTraces: seeds explore different interleavings.
func TestDifferentSeedsDifferentTraces(t *testing.T) {
	seen := map[string]uint64{}
	for seed := range uint64(20) {
		tr := traceOf(t, seed)
		if other, dup := seen[tr]; dup {
			t.Fatalf("seeds %d and %d gave the same trace", other, seed)
		}
		seen[tr] = seed
	}
}

// TestSeedZeroIsFIFO: under seed 0 tasks run in the order they were woken.
func TestSeedZeroIsFIFO(t *testing.T) {
	var order []int
	_, err := sim.Run(sim.Config{Seed: 0}, func(s *sim.Sim, co *coro.Co) error {
		var ts []smol.Future[int]
		for i := range 5 {
			ts = append(ts, coro.Spawn(s.Executor(), func(co *coro.Co) (int, error) {
				order = append(order, i)
				co.Yield()
				order = append(order, i)
				return i, nil
			}))
		}
		_, err := coro.Await(co, smol.JoinAll(ts))
		return err
	})
	if err != nil || fmt.Sprint(order) != "[0 1 2 3 4 0 1 2 3 4]" {
		t.Fatalf("order %v, %v", order, err)
	}
}

// TestVirtualDay: 24 virtual hours of interval ticks, every 10 s, with
// nothing else to do: time jumps from tick to tick.
func TestVirtualDay(t *testing.T) {
	begin := time.Now()
	ticks := 0
	s, err := sim.Run(sim.Config{Seed: 1, TimeLimit: 25 * time.Hour}, func(s *sim.Sim, co *coro.Co) error {
		iv := smol.Interval(10 * time.Second)
		for s.Elapsed() < 24*time.Hour {
			if _, err := coro.Await(co, iv); err != nil {
				return err
			}
			ticks++
		}
		return nil
	})
	real := time.Since(begin)
	if err != nil || ticks != 24*360 || s.Elapsed() != 24*time.Hour {
		t.Fatalf("%d ticks, %v elapsed, %v", ticks, s.Elapsed(), err)
	}
	t.Logf("24 virtual hours (%d ticks) in %v of real time: %.0fx", ticks, real, float64(24*time.Hour)/float64(real))
	if !raceEnabled && real > time.Second {
		t.Fatalf("24 virtual hours took %v of real time, want under 1 s", real)
	}
}

// TestDeadlockReport: two tasks wait on each other's channel; the run
// fails as a deadlock and the report lists both, with what they wait on.
func TestDeadlockReport(t *testing.T) {
	_, err := sim.Run(sim.Config{Seed: 3}, func(s *sim.Sim, co *coro.Co) error {
		atx, arx := channel.New[int](1)
		btx, brx := channel.New[int](1)
		a := coro.Spawn(s.Executor(), func(co *coro.Co) (int, error) {
			v, err := coro.Recv(co, brx)
			if err == nil {
				err = coro.Send(co, atx, v)
			}
			return v, err
		})
		b := coro.Spawn(s.Executor(), func(co *coro.Co) (int, error) {
			v, err := coro.Recv(co, arx)
			if err == nil {
				err = coro.Send(co, btx, v)
			}
			return v, err
		})
		_, err := coro.Await(co, smol.Join(a, b))
		return err
	})
	var f *sim.Failure
	if !errors.As(err, &f) || f.Reason != "deadlock" {
		t.Fatalf("got %v, want a deadlock", err)
	}
	msg := err.Error()
	for _, want := range []string{"seed 3", "deadlock", "recv channel", "join task"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("the report does not say %q:\n%s", want, msg)
		}
	}
	if len(f.Tasks) != 3 {
		t.Fatalf("%d live tasks in the report, want the body and the two waiters:\n%s", len(f.Tasks), msg)
	}
}

// TestLivelockLimits: a run that never ends fails at its virtual-time or
// step limit, with the same report.
func TestLivelockLimits(t *testing.T) {
	_, err := sim.Run(sim.Config{Seed: 1, TimeLimit: time.Hour}, func(s *sim.Sim, co *coro.Co) error {
		for {
			if err := co.Sleep(time.Minute); err != nil {
				return err
			}
		}
	})
	var f *sim.Failure
	if !errors.As(err, &f) || f.Reason != "time limit" || f.At > time.Hour || len(f.Tasks) != 1 {
		t.Fatalf("got %v", err)
	}
	_, err = sim.Run(sim.Config{Seed: 1, StepLimit: 1000}, func(s *sim.Sim, co *coro.Co) error {
		for {
			co.Yield()
		}
	})
	if !errors.As(err, &f) || f.Reason != "step limit" {
		t.Fatalf("got %v", err)
	}
}

// TestPanicsFail: a panic in the body or in a detached task fails the run.
func TestPanicsFail(t *testing.T) {
	for _, body := range []func(s *sim.Sim, co *coro.Co) error{
		func(s *sim.Sim, co *coro.Co) error { panic("in the body") },
		func(s *sim.Sim, co *coro.Co) error {
			coro.Spawn(s.Executor(), func(co *coro.Co) (int, error) { panic("in a task") }).Detach()
			return co.Sleep(time.Second)
		},
	} {
		_, err := sim.Run(sim.Config{Seed: 1}, body)
		var f *sim.Failure
		var pe *smol.PanicError
		if !errors.As(err, &f) || f.Reason != "panic" || !errors.As(err, &pe) {
			t.Fatalf("got %v", err)
		}
	}
}

// TestDeterminismCheckCatchesRealClock: a body that reads the machine's
// clock and acts on it runs differently each time; running one seed twice
// and comparing the traces finds it.
func TestDeterminismCheckCatchesRealClock(t *testing.T) {
	planted := func(s *sim.Sim, co *coro.Co) error {
		for range 50 {
			if time.Now().UnixNano()/1000%2 == 0 { // the plant
				co.Yield()
			}
			if err := co.Sleep(time.Millisecond); err != nil {
				return err
			}
		}
		return nil
	}
	found := false
	for range 20 { // each round has about even odds per step: 50 steps almost surely differ
		if err := sim.CheckSame(sim.Config{Seed: 7}, planted); err != nil {
			if !strings.Contains(err.Error(), "not deterministic") || !strings.Contains(err.Error(), "diverge") {
				t.Fatalf("unexpected: %v", err)
			}
			found = true
			break
		}
	}
	if !found {
		t.Fatal("the determinism check did not notice the real clock")
	}
	// The same body without the plant is deterministic.
	clean := func(s *sim.Sim, co *coro.Co) error { return workload(s, co) }
	if err := sim.CheckSame(sim.Config{Seed: 7}, clean); err != nil {
		t.Fatal(err)
	}
}

func TestIdle(t *testing.T) {
	_, err := sim.Run(sim.Config{Seed: 5}, func(s *sim.Sim, co *coro.Co) error {
		done := 0
		for range 10 {
			coro.Spawn(s.Executor(), func(co *coro.Co) (int, error) {
				co.Yield()
				co.Yield()
				done++
				return 0, nil
			}).Detach()
		}
		if _, err := coro.Await(co, s.Idle()); err != nil {
			return err
		}
		if done != 10 {
			return fmt.Errorf("idle with %d of 10 tasks done", done)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// echoServe accepts connections on l and echoes each; it runs until l is
// closed.
func echoServe(ex smol.Spawner, l *sim.Listener) *smol.Task[struct{}] {
	return coro.Spawn(ex, func(co *coro.Co) (struct{}, error) {
		for {
			c, err := coro.Accept(co, l)
			if err != nil {
				return struct{}{}, nil
			}
			coro.Spawn(ex, func(co *coro.Co) (struct{}, error) {
				defer c.Close()
				buf := make([]byte, 1024)
				for {
					n, err := co.Read(c, buf)
					if err != nil {
						return struct{}{}, nil
					}
					if _, err := co.WriteAll(c, buf[:n]); err != nil {
						return struct{}{}, nil
					}
				}
			}).Detach()
		}
	})
}

// TestStreams: a dial takes a round trip, bytes take the link's latency,
// a partition delays them until it is repaired, a reset ends the
// connection, and a dial to a closed port is refused.
func TestStreams(t *testing.T) {
	sim.Test(t, func(s *sim.Sim, co *coro.Co) error {
		srv, cli := s.Host("server"), s.Host("client")
		s.Net().SetLink(cli, srv, sim.Link{Latency: 10 * time.Millisecond})
		s.Net().SetLink(srv, cli, sim.Link{Latency: 10 * time.Millisecond})
		l, err := srv.Listen("tcp", ":80")
		if err != nil {
			return err
		}
		echoServe(s.Executor(), l).Detach()
		start := s.Elapsed()
		c, err := coro.Await(co, cli.Dial("tcp", "server:80"))
		if err != nil {
			return err
		}
		if d := s.Elapsed() - start; d != 20*time.Millisecond {
			return fmt.Errorf("the dial took %v, want a round trip of 20ms", d)
		}
		roundTrip := func(co *coro.Co, msg string) (string, error) {
			if _, err := co.WriteAll(c, []byte(msg)); err != nil {
				return "", err
			}
			buf := make([]byte, len(msg))
			_, err := co.ReadFull(c, buf)
			return string(buf), err
		}
		start = s.Elapsed()
		if got, err := roundTrip(co, "hello"); err != nil || got != "hello" || s.Elapsed()-start != 20*time.Millisecond {
			return fmt.Errorf("echo %q %v in %v", got, err, s.Elapsed()-start)
		}
		// A partition delays the bytes; the repair delivers them.
		s.Net().Partition(srv, cli)
		coro.Spawn(s.Executor(), func(co *coro.Co) (int, error) {
			return 0, co.Sleep(time.Minute)
		}).Detach()
		later := coro.Spawn(s.Executor(), func(co *coro.Co) (string, error) { return roundTrip(co, "after the partition") })
		if err := co.Sleep(30 * time.Second); err != nil {
			return err
		}
		if later.IsFinished() {
			return errors.New("bytes crossed a partition")
		}
		s.Net().Repair(srv, cli)
		if got, err := coro.Await(co, later); err != nil || got != "after the partition" {
			return fmt.Errorf("after the repair: %q %v", got, err)
		}
		// A reset fails both ends.
		s.Net().ResetConns(srv, cli)
		if _, err := co.Read(c, make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
			return fmt.Errorf("read after a reset: %v", err)
		}
		c.Close()
		// Nothing listens on port 81.
		if _, err := coro.Await(co, cli.Dial("tcp", "server:81")); !errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Errorf("dial of a closed port: %v", err)
		}
		// The end of the stream.
		c2, err := coro.Await(co, cli.Dial("tcp", srv.Addr().String()+":80"))
		if err != nil {
			return err
		}
		c2.CloseWrite()
		if _, err := co.Read(c2, make([]byte, 1)); err != io.EOF {
			return fmt.Errorf("read after the echo's close: %v, want io.EOF", err)
		}
		var oe *net.OpError
		if _, err := coro.Await(co, cli.Dial("tcp", "nowhere:80")); !errors.As(err, &oe) {
			return fmt.Errorf("dial of an unknown host: %v", err)
		}
		return l.Close()
	}, sim.Seeds(20))
}

// TestBackPressure: a writer whose peer does not read stops after a
// window's worth of bytes.
func TestBackPressure(t *testing.T) {
	sim.Test(t, func(s *sim.Sim, co *coro.Co) error {
		a, b := s.Host("a"), s.Host("b")
		l, err := b.Listen("tcp", ":9")
		if err != nil {
			return err
		}
		c, err := coro.Await(co, a.Dial("tcp", "b:9"))
		if err != nil {
			return err
		}
		sent := 0
		w := coro.Spawn(s.Executor(), func(co *coro.Co) (int, error) {
			chunk := make([]byte, 1000)
			for {
				n, err := co.Write(c, chunk)
				sent += n
				if err != nil {
					return sent, err
				}
			}
		})
		if _, err := coro.Await(co, s.Idle()); err != nil {
			return err
		}
		if w.IsFinished() || sent != 64<<10 {
			return fmt.Errorf("the writer sent %d bytes to a peer that does not read, want 64 KiB", sent)
		}
		w.Cancel()
		c.Close()
		return l.Close()
	})
}

// TestDatagrams: loss, duplication and reordering are drawn from the seed,
// so they replay; a partition loses datagrams; hold then release makes
// later datagrams arrive first.
func TestDatagrams(t *testing.T) {
	run := func(seed uint64) (string, error) {
		var got []string
		_, err := sim.Run(sim.Config{Seed: seed}, func(s *sim.Sim, co *coro.Co) error {
			a, b := s.Host("a"), s.Host("b")
			s.Net().SetLink(a, b, sim.Link{Latency: time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.2, Duplicate: 0.1})
			pa, err := a.ListenPacket("udp", ":1000")
			if err != nil {
				return err
			}
			pb, err := b.ListenPacket("udp", ":2000")
			if err != nil {
				return err
			}
			for i := range 50 {
				if _, err := coro.Await(co, pa.WriteTo([]byte(fmt.Sprint(i)), pb.LocalAddrPort())); err != nil {
					return err
				}
			}
			reader := coro.Spawn(s.Executor(), func(co *coro.Co) (int, error) {
				buf := make([]byte, 16)
				for {
					f, err := coro.Await(co, pb.ReadFrom(buf))
					if err != nil {
						return 0, nil
					}
					got = append(got, string(buf[:f.N]))
				}
			})
			if err := co.Sleep(time.Second); err != nil {
				return err
			}
			pb.Close()
			_, err = coro.Await(co, reader)
			return err
		})
		return strings.Join(got, " "), err
	}
	first, err := run(9)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := run(9); again != first {
		t.Fatalf("seed 9 did not replay:\n%s\n%s", first, again)
	}
	got := strings.Fields(first)
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	dups := 0
	for _, n := range seen {
		dups += n - 1
	}
	if len(seen) >= 50 || dups == 0 || slices.IsSortedFunc(got, func(a, b string) int { return len(a)*100 + int(a[0]) - len(b)*100 - int(b[0]) }) {
		t.Fatalf("50 datagrams over a lossy, duplicating, jittery link arrived as: %s", first)
	}
	if other, _ := run(10); other == first {
		t.Fatal("seeds 9 and 10 drew the same faults")
	}

	// Hold, then release: held datagrams arrive after later ones.
	var order []string
	_, err = sim.Run(sim.Config{Seed: 1}, func(s *sim.Sim, co *coro.Co) error {
		a, b, c := s.Host("a"), s.Host("b"), s.Host("c")
		pa, _ := a.ListenPacket("udp", ":1")
		pc, _ := c.ListenPacket("udp", ":1")
		pb, _ := b.ListenPacket("udp", ":1")
		s.Net().Hold(a, b)
		coro.Await(co, pa.WriteTo([]byte("from a, held"), pb.LocalAddrPort()))
		if err := co.Sleep(time.Second); err != nil {
			return err
		}
		coro.Await(co, pc.WriteTo([]byte("from c"), pb.LocalAddrPort()))
		if err := co.Sleep(time.Second); err != nil {
			return err
		}
		s.Net().Release(a, b)
		s.Net().Partition(c, b)
		coro.Await(co, pc.WriteTo([]byte("from c, lost"), pb.LocalAddrPort()))
		buf := make([]byte, 32)
		for range 2 {
			f, err := coro.Await(co, pb.ReadFrom(buf))
			if err != nil {
				return err
			}
			order = append(order, string(buf[:f.N]))
		}
		if err := co.Sleep(time.Second); err != nil {
			return err
		}
		if _, err := coro.Await(co, smol.Timeout(pb.ReadFrom(buf), time.Second)); !errors.Is(err, smol.ErrTimeout) {
			return fmt.Errorf("a datagram crossed a partition: %v", err)
		}
		return nil
	})
	if err != nil || fmt.Sprint(order) != "[from c from a, held]" {
		t.Fatalf("order %q, %v", order, err)
	}
}

// TestParallel: simulations run side by side in one test binary.
func TestParallel(t *testing.T) {
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			first := traceOf(t, uint64(i))
			if got := traceOf(t, uint64(i)); got != first {
				t.Fatal("a parallel run did not replay")
			}
		})
	}
}
