package channel_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
)

// producer sends id<<32|seq for seq in [0, n) and then closes its handle.
// Every 100 sends it yields, so producers interleave even on an unbounded
// channel.
type producer struct {
	tx      *channel.Sender[uint64]
	id, n   uint64
	seq     uint64
	f       channel.SendFuture[uint64]
	sending bool
}

func (p *producer) Poll(cx *smol.Context) (struct{}, bool, error) {
	for budget := 100; ; budget-- {
		if !p.sending {
			if p.seq == p.n {
				p.tx.Close()
				return struct{}{}, true, nil
			}
			if budget == 0 {
				cx.Waker().Wake()
				return struct{}{}, false, nil
			}
			p.f.Reset(p.tx, p.id<<32|p.seq)
			p.sending = true
		}
		_, ok, err := p.f.Poll(cx)
		if !ok {
			return struct{}{}, false, nil
		}
		if err != nil {
			panic(err)
		}
		p.sending = false
		p.seq++
	}
}

// consumer receives until the channel is closed, checking that each
// producer's values arrive in order and marking each value seen.
type consumer struct {
	rx        *channel.Receiver[uint64]
	last      []int64 // per producer: last sequence number received
	seen      []atomic.Bool
	perProd   uint64
	count     int
	f         channel.RecvFuture[uint64]
	receiving bool
	err       string
}

func (c *consumer) Poll(cx *smol.Context) (struct{}, bool, error) {
	for budget := 100; ; budget-- {
		if !c.receiving {
			if budget == 0 {
				cx.Waker().Wake()
				return struct{}{}, false, nil
			}
			c.f.Reset(c.rx)
			c.receiving = true
		}
		v, ok, err := c.f.Poll(cx)
		if !ok {
			return struct{}{}, false, nil
		}
		c.receiving = false
		if err != nil {
			c.rx.Close()
			return struct{}{}, true, nil
		}
		id, seq := v>>32, int64(v&0xffffffff)
		if seq <= c.last[id] {
			c.err = "out of order"
		}
		c.last[id] = seq
		if c.seen[id*c.perProd+uint64(seq)].Swap(true) {
			c.err = "duplicate"
		}
		c.count++
	}
}

func runStress(t *testing.T, tx *channel.Sender[uint64], rx *channel.Receiver[uint64], producers, consumers int, total uint64) {
	perProd := total / uint64(producers)
	seen := make([]atomic.Bool, total)
	ex := smol.NewExecutor()
	var tasks []smol.Future[struct{}]
	cons := make([]*consumer, consumers)
	for i := range producers {
		s := tx
		if i > 0 {
			s = tx.Clone()
		}
		tasks = append(tasks, smol.SpawnOn(ex, &producer{tx: s, id: uint64(i), n: perProd}))
	}
	for i := range consumers {
		r := rx
		if i > 0 {
			r = rx.Clone()
		}
		c := &consumer{rx: r, last: make([]int64, producers), seen: seen, perProd: perProd}
		for j := range c.last {
			c.last[j] = -1
		}
		cons[i] = c
		tasks = append(tasks, smol.SpawnOn(ex, c))
	}
	// Two workers: one runs until every task is done, the other until the
	// executor is closed.
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); smol.Run(ex, smol.Never[struct{}]()) }()
	if _, err := smol.Run(ex, smol.JoinAll(tasks)); err != nil {
		t.Fatal(err)
	}
	ex.Close()
	wg.Wait()

	n := 0
	for i, c := range cons {
		if c.err != "" {
			t.Fatalf("consumer %d: %s", i, c.err)
		}
		n += c.count
	}
	if uint64(n) != perProd*uint64(producers) {
		t.Fatalf("received %d messages, want %d", n, perProd*uint64(producers))
	}
	for i := range seen[:perProd*uint64(producers)] {
		if !seen[i].Load() {
			t.Fatalf("message %d lost", i)
		}
	}
}

// stressTotal is the number of messages in the 8x8 stress tests.
const stressTotal = 1 << 20

func TestStress8x8Bounded(t *testing.T) {
	tx, rx := channel.New[uint64](64)
	runStress(t, tx, rx, 8, 8, stressTotal)
}

func TestStress8x8Unbounded(t *testing.T) {
	tx, rx := channel.NewUnbounded[uint64]()
	runStress(t, tx, rx, 8, 8, stressTotal)
}

// TestStressCapacityOne runs with the smallest buffer, where senders and
// receivers wait on each other most.
func TestStressCapacityOne(t *testing.T) {
	tx, rx := channel.New[uint64](1)
	runStress(t, tx, rx, 8, 8, stressTotal/16)
}
