package sim_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/smolgo/smol/coro"
	"github.com/smolgo/smol/lock"
	"github.com/smolgo/smol/sim"
)

// account is a balance that two withdrawals race for.
type account struct {
	mu      lock.Mutex
	balance int
}

var errFunds = errors.New("insufficient funds")

// withdrawRacy checks the balance, awaits something (writing an audit
// record, say), then takes the money: a check-then-act across an await.
func withdrawRacy(co *coro.Co, a *account, amount, prep int) error {
	for range prep { // work before the check
		co.Yield()
	}
	if a.balance < amount {
		return errFunds
	}
	co.Yield() // the await between the check and the act
	a.balance -= amount
	return nil
}

// withdrawFixed holds the account's lock across the check and the act.
func withdrawFixed(co *coro.Co, a *account, amount, prep int) error {
	for range prep {
		co.Yield()
	}
	co.Lock(&a.mu)
	defer a.mu.Unlock()
	if a.balance < amount {
		return errFunds
	}
	co.Yield()
	a.balance -= amount
	return nil
}

// twoWithdrawals is the test body: two withdrawals of 80 from 100, one of
// which starts its check at once and one after some work; the balance must
// not go below zero.
func twoWithdrawals(withdraw func(*coro.Co, *account, int, int) error) func(*sim.Sim, *coro.Co) error {
	return func(s *sim.Sim, co *coro.Co) error {
		a := &account{balance: 100}
		w1 := coro.Spawn(s.Executor(), func(co *coro.Co) (struct{}, error) { return struct{}{}, withdraw(co, a, 80, 0) })
		w2 := coro.Spawn(s.Executor(), func(co *coro.Co) (struct{}, error) { return struct{}{}, withdraw(co, a, 80, 6) })
		coro.Await(co, w1)
		coro.Await(co, w2)
		if a.balance < 0 {
			return fmt.Errorf("balance %d", a.balance)
		}
		return nil
	}
}

// A lost update that plain FIFO order never shows: the seed search finds
// an interleaving where both withdrawals pass the check, and the fix
// (a lock across the check and the act) passes every seed.
func Example_raceSearch() {
	// FIFO (seed 0) runs the first withdrawal to the end before the
	// second one checks: the bug hides.
	_, err := sim.Run(sim.Config{Seed: 0}, twoWithdrawals(withdrawRacy))
	fmt.Println("FIFO:", err)

	for seed := uint64(1); seed <= 1000; seed++ {
		if _, err := sim.Run(sim.Config{Seed: seed}, twoWithdrawals(withdrawRacy)); err != nil {
			var f *sim.Failure
			errors.As(err, &f)
			fmt.Printf("racy: seed %d fails: %v\n", seed, f.Err)
			break
		}
	}
	failed := 0
	for seed := uint64(1); seed <= 1000; seed++ {
		if _, err := sim.Run(sim.Config{Seed: seed}, twoWithdrawals(withdrawFixed)); err != nil {
			failed++
		}
	}
	fmt.Println("fixed: seeds failing out of 1000:", failed)
	// Output:
	// FIFO: <nil>
	// racy: seed 4 fails: balance -60
	// fixed: seeds failing out of 1000: 0
}

// A client retries a flaky server with exponential backoff, for ten
// virtual minutes; the run takes milliseconds of real time.
func Example_retryWithBackoff() {
	begin := time.Now()
	var attempts, served int
	s, err := sim.Run(sim.Config{Seed: 4}, func(s *sim.Sim, co *coro.Co) error {
		api, client := s.Host("api"), s.Host("client")
		l, err := api.Listen("tcp", ":443")
		if err != nil {
			return err
		}
		// The server resets three connections out of four.
		coro.Spawn(s.Executor(), func(co *coro.Co) (struct{}, error) {
			for {
				c, err := coro.Accept(co, l)
				if err != nil {
					return struct{}{}, nil
				}
				if s.Rand().IntN(4) != 0 {
					c.Reset()
					continue
				}
				co.WriteAll(c, []byte("ok"))
				c.Close()
				served++
			}
		}).Detach()
		// The client: one request a minute, each retried from 1 s on,
		// doubling, until it succeeds.
		for s.Elapsed() < 10*time.Minute {
			for backoff := time.Second; ; backoff *= 2 {
				attempts++
				c, err := coro.Await(co, client.Dial("tcp", "api:443"))
				if err == nil {
					buf := make([]byte, 2)
					_, err = co.ReadFull(c, buf)
					c.Close()
					if err == nil {
						break
					}
				}
				if err := co.Sleep(backoff); err != nil {
					return err
				}
			}
			if err := co.Sleep(time.Minute); err != nil {
				return err
			}
		}
		return l.Close()
	})
	fmt.Println(err, "virtual:", s.Elapsed().Truncate(time.Minute), "requests:", served, "attempts:", attempts)
	fmt.Println("under a second of real time:", time.Since(begin) < time.Second)
	// Output:
	// <nil> virtual: 10m0s requests: 8 attempts: 28
	// under a second of real time: true
}

// A leader lease on three hosts. The leader renews its lease with
// heartbeats that the followers acknowledge; a follower that has not heard
// from a leader for its election timeout takes over with a higher term.
// Every write a leader accepts is logged with its term, and terms must
// never go back: two leaders accepting writes at once (split brain) would
// make them do so.
//
// The naive leader trusts its role until it hears a higher term, so when a
// partition cuts it off, it keeps accepting writes while the others elect
// a new leader. The fix: a leader accepts writes only while a majority has
// acknowledged a heartbeat within its lease, which is shorter than the
// followers' election timeout.
func Example_leaderLease() {
	for _, fixed := range []bool{false, true} {
		failing := 0
		first := ""
		for seed := uint64(1); seed <= 20; seed++ {
			if _, err := sim.Run(sim.Config{Seed: seed}, leaseCluster(fixed)); err != nil {
				var f *sim.Failure
				errors.As(err, &f)
				if failing == 0 {
					first = f.Err.Error()
				}
				failing++
			}
		}
		fmt.Printf("fixed=%v: %d of 20 seeds fail %s\n", fixed, failing, first)
	}
	// Output:
	// fixed=false: 20 of 20 seeds fail split brain: term 1 accepted a write at +32s after term 2 did at +32s
	// fixed=true: 0 of 20 seeds fail
}

const (
	heartbeat       = time.Second
	lease           = 4 * time.Second  // how long a leader trusts a majority's acknowledgement
	electionTimeout = 10 * time.Second // longer than the lease, by more than the network's delays
)

// node is one member of the cluster.
type node struct {
	id        int
	term      int
	leader    bool
	lastHeard time.Duration   // a follower: when it last heard its leader
	acked     []time.Duration // a leader: when each peer last acknowledged
}

// leaseCluster is the test body: three nodes, node 1 the first leader, a
// partition that cuts node 1 off from 20 s to 60 s, and a client on each
// node writing every 500 ms.
func leaseCluster(fixed bool) func(*sim.Sim, *coro.Co) error {
	return func(s *sim.Sim, co *coro.Co) error {
		hosts := []*sim.Host{s.Host("n1"), s.Host("n2"), s.Host("n3")}
		for _, a := range hosts {
			for _, b := range hosts {
				s.Net().SetLink(a, b, sim.Link{Latency: 5 * time.Millisecond, Jitter: 20 * time.Millisecond})
			}
		}
		var socks []*sim.PacketConn
		for _, h := range hosts {
			pc, err := h.ListenPacket("udp", ":7000")
			if err != nil {
				return err
			}
			socks = append(socks, pc)
		}
		nodes := []*node{{id: 0, term: 1, leader: true}, {id: 1, term: 1}, {id: 2, term: 1}}
		for _, n := range nodes {
			n.acked = make([]time.Duration, 3)
		}
		var log []struct {
			term int
			at   time.Duration
		}
		ex := s.Executor()
		for i, n := range nodes {
			pc := socks[i]
			send := func(co *coro.Co, to int, msg string) {
				coro.Await(co, pc.WriteTo([]byte(msg), socks[to].LocalAddrPort()))
			}
			// The receiver: heartbeats "hb <term> <from>" and acks
			// "ack <term> <from>".
			coro.Spawn(ex, func(co *coro.Co) (struct{}, error) {
				buf := make([]byte, 64)
				for {
					f, err := coro.Await(co, pc.ReadFrom(buf))
					if err != nil {
						return struct{}{}, nil
					}
					var kind string
					var term, from int
					fmt.Sscan(string(buf[:f.N]), &kind, &term, &from)
					switch {
					case term > n.term: // a newer leader: follow it
						n.term, n.leader = term, false
						fallthrough
					case kind == "hb" && term == n.term:
						n.lastHeard = s.Elapsed()
						send(co, from, fmt.Sprint("ack ", n.term, " ", n.id))
					case kind == "ack" && term == n.term && n.leader:
						n.acked[from] = s.Elapsed()
					}
				}
			}).Detach()
			// The heartbeat and election loop.
			coro.Spawn(ex, func(co *coro.Co) (struct{}, error) {
				for {
					if err := co.Sleep(heartbeat); err != nil {
						return struct{}{}, err
					}
					if n.leader {
						for p := range nodes {
							if p != n.id {
								send(co, p, fmt.Sprint("hb ", n.term, " ", n.id))
							}
						}
					} else if s.Elapsed()-n.lastHeard > electionTimeout+time.Duration(n.id)*2*time.Second {
						n.term++
						n.leader = true
						n.acked = make([]time.Duration, 3)
						s.Tracef("n%d leads term %d", n.id+1, n.term)
					}
				}
			}).Detach()
			// The client: a write every 500 ms, accepted if this node may
			// act as the leader.
			coro.Spawn(ex, func(co *coro.Co) (struct{}, error) {
				for {
					if err := co.Sleep(500 * time.Millisecond); err != nil {
						return struct{}{}, err
					}
					if n.leader && (!fixed || n.holdsLease(s.Elapsed())) {
						log = append(log, struct {
							term int
							at   time.Duration
						}{n.term, s.Elapsed()})
					}
				}
			}).Detach()
		}
		if err := co.Sleep(20 * time.Second); err != nil {
			return err
		}
		s.Net().Partition(hosts[0], hosts[1])
		s.Net().Partition(hosts[0], hosts[2])
		if err := co.Sleep(40 * time.Second); err != nil {
			return err
		}
		s.Net().Repair(hosts[0], hosts[1])
		s.Net().Repair(hosts[0], hosts[2])
		if err := co.Sleep(30 * time.Second); err != nil {
			return err
		}
		for i := 1; i < len(log); i++ {
			if log[i].term < log[i-1].term {
				return fmt.Errorf("split brain: term %d accepted a write at +%v after term %d did at +%v",
					log[i].term, log[i].at.Truncate(time.Second), log[i-1].term, log[i-1].at.Truncate(time.Second))
			}
		}
		if len(log) < 100 || log[len(log)-1].term < 2 {
			return fmt.Errorf("the cluster did not make progress: %d writes", len(log))
		}
		return nil
	}
}

// holdsLease reports whether a majority (this node and one peer) has
// acknowledged a heartbeat within the lease.
func (n *node) holdsLease(now time.Duration) bool {
	for p, at := range n.acked {
		if p != n.id && at > 0 && now-at < lease {
			return true
		}
	}
	return false
}
