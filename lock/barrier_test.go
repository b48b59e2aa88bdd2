package lock_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/lock"
)

// TestBarrierGenerations: tasks meet at the barrier round after round;
// each round has one leader and nobody runs ahead.
func TestBarrierGenerations(t *testing.T) {
	const parties, rounds = 5, 50
	b := lock.NewBarrier(parties)
	var leaders [rounds]atomic.Int32
	var arrived [rounds]atomic.Int32
	var fs []smol.Future[struct{}]
	for range parties {
		var st []func() smol.Future[struct{}]
		for r := range rounds {
			st = append(st,
				do(func() { arrived[r].Add(1) }),
				func() smol.Future[struct{}] {
					return smol.Map(b.Arrive(), func(leader bool) struct{} {
						if arrived[r].Load() != parties {
							panic("released before everyone arrived")
						}
						if leader {
							leaders[r].Add(1)
						}
						return struct{}{}
					})
				})
		}
		fs = append(fs, &steps{fs: st})
	}
	runTasks(t, fs...)
	for r := range rounds {
		if leaders[r].Load() != 1 {
			t.Fatalf("round %d had %d leaders", r, leaders[r].Load())
		}
	}
}

func TestBarrierBlocking(t *testing.T) {
	b := lock.NewBarrier(3)
	var leaders atomic.Int32
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.WaitBlocking() {
				leaders.Add(1)
			}
		}()
	}
	wg.Wait()
	if leaders.Load() != 1 {
		t.Fatalf("%d leaders", leaders.Load())
	}
	if !lock.NewBarrier(0).WaitBlocking() {
		t.Fatal("a barrier of one is not led by its only party")
	}
}

// TestBarrierDiscard: a party that gives up is not counted.
func TestBarrierDiscard(t *testing.T) {
	b := lock.NewBarrier(2)
	a := b.Arrive()
	a.Poll(noop)
	a.Discard()
	c, d := b.Arrive(), b.Arrive()
	var wc counter
	if _, ok, _ := c.Poll(cx(&wc)); ok {
		t.Fatal("a discarded party counted")
	}
	if leader, ok, _ := d.Poll(noop); !ok || !leader {
		t.Fatal("second party not the leader")
	}
	if wc.take() != 1 {
		t.Fatal("first party not woken")
	}
	if leader, ok, _ := c.Poll(cx(&wc)); !ok || leader {
		t.Fatal("first party not released as a follower")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.WaitContext(ctx); err != context.Canceled {
		t.Fatalf("WaitContext = %v", err)
	}
	// The canceled party withdrew: two new parties form a group.
	e := b.Arrive()
	e.Poll(noop)
	if leader, ok, _ := b.Arrive().Poll(noop); !ok || !leader {
		t.Fatal("canceled party still counted")
	}
}
