package smol_test

import (
	"testing"

	"github.com/smolgo/smol"
)

// The run queue keeps busy tasks (whose latest poll spent half the budget
// or more) behind the others, and gives them a poll between two batches of
// those; see core.next. These tests count polls, not time.

// hog returns a task that spends its whole budget on every poll, and so
// wakes itself, and counts its polls in *n.
func hog(n *int) smol.Future[struct{}] {
	return smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
		*n++
		for cx.Proceed() {
		}
		return struct{}{}, false, nil
	})
}

// heavy returns a task that spends more than half its budget and then
// waits to be woken from outside, through the waker it leaves in *w; it
// counts its polls in *n.
func heavy(n *int, w *smol.Waker) smol.Future[struct{}] {
	return smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
		*n++
		for range smol.DefaultBudget * 3 / 4 {
			cx.Proceed()
		}
		*w = cx.Waker()
		return struct{}{}, false, nil
	})
}

// TestWokenTaskOvertakesHogs: with 100 tasks that spend their budget on
// every poll, a task woken from outside runs after at most one of their
// polls, not after a round of all 100 (as it did when every task went to
// the back of one queue).
func TestWokenTaskOvertakesHogs(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var hogPolls int
	for range 100 {
		smol.SpawnOn(ex, hog(&hogPolls)).Detach()
	}
	for range 1000 { // the hogs are all on the busy list now
		ex.TryTick()
	}
	for round := range 20 {
		sig := newSignal[int]()
		ran := -1
		smol.SpawnOn(ex, script(await(sig), doStep(func() { ran = hogPolls }))).Detach()
		ex.TryTick() // the waiter's first poll, unless a hog's turn comes first
		ex.TryTick()
		if sig.Polls() == 0 {
			t.Fatalf("round %d: a spawned task was not polled in 2 ticks", round)
		}
		for range 37 { // let the hogs run a while
			ex.TryTick()
		}
		before := hogPolls
		sig.Fire(1)
		for i := 0; ran < 0; i++ {
			if i > 200 {
				t.Fatalf("round %d: the woken task did not run in 200 ticks", round)
			}
			ex.TryTick()
		}
		if d := ran - before; d > 1 {
			t.Fatalf("round %d: the woken task waited for %d hog polls, want at most 1", round, d)
		}
	}
}

// TestWokenTaskOvertakesHeavyTasks: tasks that are woken from outside but
// spent most of their budget in their latest poll count as busy too: a
// task woken after them runs before them.
func TestWokenTaskOvertakesHeavyTasks(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var heavyPolls int
	wakers := make([]smol.Waker, 50)
	for i := range wakers {
		smol.SpawnOn(ex, heavy(&heavyPolls, &wakers[i])).Detach()
	}
	for ex.TryTick() {
	}
	for round := range 10 {
		sig := newSignal[int]()
		ran := -1
		smol.SpawnOn(ex, script(await(sig), doStep(func() { ran = heavyPolls }))).Detach()
		for ex.TryTick() {
		}
		before := heavyPolls
		for _, w := range wakers {
			w.Wake()
		}
		sig.Fire(1)
		for ex.TryTick() {
		}
		if ran != before {
			t.Fatalf("round %d: the woken task ran after %d heavy polls, want 0", round, ran-before)
		}
		if heavyPolls != before+len(wakers) {
			t.Fatalf("round %d: %d heavy polls, want %d", round, heavyPolls-before, len(wakers))
		}
	}
}

// TestHogNotStarvedByWakes: two tasks that wake each other for ever keep
// the queue of woken tasks from ever running dry; a hog beside them still
// gets a poll between two of their batches, a third of the polls here.
func TestHogNotStarvedByWakes(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var hogPolls, pingPolls int
	smol.SpawnOn(ex, hog(&hogPolls)).Detach()
	var wa, wb smol.Waker
	pinger := func(mine, other *smol.Waker) smol.Future[struct{}] {
		return smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
			pingPolls++
			*mine = cx.Waker()
			if *other != nil {
				(*other).Wake()
			}
			return struct{}{}, false, nil
		})
	}
	smol.SpawnOn(ex, pinger(&wa, &wb)).Detach()
	smol.SpawnOn(ex, pinger(&wb, &wa)).Detach()
	for range 3000 {
		if !ex.TryTick() {
			t.Fatal("the executor ran dry")
		}
	}
	if hogPolls < 3000/4 {
		t.Fatalf("the hog got %d of 3000 polls (the pingers %d), want at least a quarter", hogPolls, pingPolls)
	}
}

// TestYieldRunsAfterEveryRunnableTask: a task that yields runs again only
// after every task that was runnable when it yielded: the ones queued, the
// ones woken during its poll, and the busy ones queued before it.
func TestYieldRunsAfterEveryRunnableTask(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var hogPolls int
	for range 3 {
		smol.SpawnOn(ex, hog(&hogPolls)).Detach()
	}
	for range 10 {
		ex.TryTick()
	}
	var log []string
	sig := newSignal[int]()
	smol.SpawnOn(ex, script(await(sig), doStep(func() { log = append(log, "woken") }))).Detach()
	ex.TryTick() // the waiter is polled; the hogs were queued first, so keep going until it was
	for sig.Polls() == 0 {
		ex.TryTick()
	}
	before := hogPolls
	smol.SpawnOn(ex, script(doStep(func() { sig.Fire(1) }), yieldStep(), doStep(func() {
		log = append(log, "yielder")
		if d := hogPolls - before; d < 3 {
			t.Errorf("the yielder ran again after %d hog polls, want the 3 queued before it", d)
		}
	}))).Detach()
	for len(log) < 2 {
		ex.TryTick()
	}
	if log[0] != "woken" || log[1] != "yielder" {
		t.Fatalf("order %v, want the task woken by the yielder first", log)
	}
}

// TestExecutorWokenTaskOvertakesHeavyTasks: an Executor's global queue
// sorts busy tasks the same way. One goroutine drives the executor with
// Run; its main future spawns the tasks, then wakes the heavy ones and,
// after them, the waiting one, which must run first.
func TestExecutorWokenTaskOvertakesHeavyTasks(t *testing.T) {
	ex := smol.NewExecutor()
	defer ex.Close()
	var heavyPolls int
	wakers := make([]smol.Waker, 50)
	sig := newSignal[int]()
	ran, before, step := -1, 0, 0
	main := smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
		switch step {
		case 0: // spawn; Run polls every queued task before main again
			for i := range wakers {
				smol.SpawnOn(ex, heavy(&heavyPolls, &wakers[i])).Detach()
			}
			smol.SpawnOn(ex, script(await(sig), doStep(func() { ran = heavyPolls }))).Detach()
		case 1: // wake the heavy tasks, then the waiting one
			before = heavyPolls
			for _, w := range wakers {
				w.Wake()
			}
			sig.Fire(1)
		default:
			return struct{}{}, true, nil
		}
		step++
		cx.Waker().Wake()
		return struct{}{}, false, nil
	})
	if _, err := smol.Run(ex, main); err != nil {
		t.Fatal(err)
	}
	if ran != before {
		t.Fatalf("the woken task ran after %d heavy polls, want 0 (heavy polls in all: %d)", ran-before, heavyPolls)
	}
}
