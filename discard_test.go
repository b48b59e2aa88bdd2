package smol_test

import (
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
)

// A canceled task discards its future, so a value sent to the channel goes
// to the receiver still waiting instead of being stranded.
func TestCancelDiscardsFuture(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	tx, rx := channel.New[int](1)
	t1 := smol.SpawnOn[int](ex, smol.Map(rx.Recv(), func(v int) int { return v }))
	t2 := smol.SpawnOn[int](ex, rx.Recv())
	for ex.TryTick() {
	}
	t1.Cancel()
	if err := tx.TrySend(5); err != nil {
		t.Fatal(err)
	}
	for ex.TryTick() {
	}
	if !t2.IsFinished() || smol.BlockOn[int](t2) != 5 {
		t.Fatal("the value was stranded by the canceled receiver")
	}
}

// Closing an executor discards its pending futures, so a value goes to a
// receiver on another executor.
func TestCloseDiscardsFutures(t *testing.T) {
	ex1, ex2 := smol.NewLocalExecutor(), smol.NewLocalExecutor()
	defer ex2.Close()
	tx, rx := channel.New[int](1)
	smol.SpawnOn[int](ex1, rx.Recv())
	for ex1.TryTick() {
	}
	t2 := smol.SpawnOn[int](ex2, rx.Recv())
	for ex2.TryTick() {
	}
	ex1.Close()
	if err := tx.TrySend(7); err != nil {
		t.Fatal(err)
	}
	for ex2.TryTick() {
	}
	if !t2.IsFinished() || smol.BlockOn[int](t2) != 7 {
		t.Fatal("the value was stranded by the closed executor's receiver")
	}
}

// Race and Timeout discard the futures that lost, so a later value reaches
// the receiver still waiting.
func TestRaceAndTimeoutDiscardLosers(t *testing.T) {
	for _, name := range []string{"race", "timeout"} {
		ex := smol.NewLocalExecutor()
		tx, rx := channel.New[int](1)
		var loser smol.Future[int]
		if name == "race" {
			loser = smol.Map(smol.Race(rx.Recv(), smol.Map(smol.Sleep(time.Millisecond), func(time.Time) int { return -1 })),
				func(w smol.Winner[int]) int { return w.Index })
		} else {
			loser = smol.Map(smol.Timeout[int](rx.Recv(), time.Millisecond), func(r smol.Result[int]) int { return r.Value })
		}
		first := smol.SpawnOn(ex, loser)
		second := smol.SpawnOn[int](ex, rx.Recv())
		if _, err := smol.Run(ex, first); err != nil {
			t.Fatal(err)
		}
		if err := tx.TrySend(3); err != nil {
			t.Fatal(err)
		}
		for ex.TryTick() {
		}
		if !second.IsFinished() {
			t.Fatalf("%s: the losing receive swallowed the wake", name)
		}
		ex.Close()
	}
}
