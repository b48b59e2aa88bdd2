package smol_test

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/smolgo/smol"
)

// noop is a context for polling a future by hand.
var noop = smol.NewContext(smol.NoopWaker)

func TestReady(t *testing.T) {
	f := smol.Ready("x")
	for range 2 {
		if v, ok, _ := f.Poll(noop); !ok || v != "x" {
			t.Fatalf("Ready: got (%q, %v)", v, ok)
		}
	}
	if got := complete(t, smol.Ready(7)); got != 7 {
		t.Fatalf("got %d", got)
	}
}

func TestContextWaker(t *testing.T) {
	woken := 0
	w := smol.WakerFunc(func() { woken++ })
	cx := smol.NewContext(w)
	cx.Waker().Wake()
	cx.Waker().Wake()
	if woken != 2 {
		t.Fatalf("WakerFunc called %d times, want 2", woken)
	}
	smol.NoopWaker.Wake() // must not panic
}

func TestPollFn(t *testing.T) {
	// Pending twice, waking itself each time, then ready.
	polls := 0
	f := smol.PollFn(func(cx *smol.Context) (string, bool, error) {
		polls++
		if polls < 3 {
			cx.Waker().Wake()
			return "", false, nil
		}
		return "done", true, nil
	})
	if got := complete(t, f); got != "done" || polls != 3 {
		t.Fatalf("got %q after %d polls, want \"done\" after 3", got, polls)
	}
}

func TestMap(t *testing.T) {
	sig := newSignal[int]()
	f := smol.Map(sig, strconv.Itoa)
	if _, ok, _ := f.Poll(noop); ok {
		t.Fatal("Map ready before its future")
	}
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	// A second task fires the signal after the mapped future is pending.
	task := smol.SpawnOn(ex, f)
	ex.TryTick()
	smol.SpawnOn(ex, fire(sig, 42))
	if got := mustComplete(t, ex, task); got != "42" {
		t.Fatalf("got %q, want \"42\"", got)
	}
}

func TestThen(t *testing.T) {
	// The first step waits for a signal fired by another task; the second
	// step yields twice. Each wake must reach the chain's task.
	sig := newSignal[int]()
	var calls int
	f := smol.Then(sig, func(n int) smol.Future[string] {
		calls++
		return yields(2, fmt.Sprint("n=", n))
	})
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, f)
	ex.TryTick()
	smol.SpawnOn(ex, fire(sig, 5))
	if got := mustComplete(t, ex, task); got != "n=5" || calls != 1 {
		t.Fatalf("got %q with fn called %d times, want \"n=5\" once", got, calls)
	}
	// A ready first step goes straight to the second.
	g := smol.Then(smol.Ready(2), func(n int) smol.Future[int] { return smol.Ready(n * 10) })
	if v, ok, _ := g.Poll(noop); !ok || v != 20 {
		t.Fatalf("Then of ready futures: got (%d, %v)", v, ok)
	}
}

// recorder returns a future that appends name to *log at each poll and is
// ready on its n-th poll, waking itself before that.
func recorder(log *[]string, name string, n int) smol.Future[string] {
	polls := 0
	return smol.PollFn(func(cx *smol.Context) (string, bool, error) {
		polls++
		*log = append(*log, name)
		if polls < n {
			cx.Waker().Wake()
			return "", false, nil
		}
		return name, true, nil
	})
}

func TestJoinPollsAFirst(t *testing.T) {
	var log []string
	f := smol.Join(recorder(&log, "a", 1), recorder(&log, "b", 3))
	got := complete(t, f)
	if got.A != "a" || got.B != "b" {
		t.Fatalf("Join: got %+v", got)
	}
	// a is polled first, and a ready future is not polled again.
	if want := []string{"a", "b", "b", "b"}; !reflect.DeepEqual(log, want) {
		t.Fatalf("poll order %v, want %v", log, want)
	}

	log = nil
	f2 := smol.Join(recorder(&log, "a", 3), recorder(&log, "b", 2))
	complete(t, f2)
	if want := []string{"a", "b", "a", "b", "a"}; !reflect.DeepEqual(log, want) {
		t.Fatalf("poll order %v, want %v", log, want)
	}
}

func TestJoinTypes(t *testing.T) {
	got := complete(t, smol.Join(smol.Ready(1), yields(1, "one")))
	if got != (smol.Pair[int, string]{A: 1, B: "one"}) {
		t.Fatalf("got %+v", got)
	}
}

func TestJoinAllOnlyWokenChildrenRepolled(t *testing.T) {
	sigs := make([]*signal[int], 5)
	fs := make([]smol.Future[int], 5)
	for i := range sigs {
		sigs[i] = newSignal[int]()
		fs[i] = sigs[i]
	}
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.JoinAll(fs))
	ex.TryTick()
	for i, s := range sigs {
		if s.Polls() != 1 {
			t.Fatalf("child %d polled %d times on the first poll, want 1", i, s.Polls())
		}
	}
	// Fire the children in reverse order, one per tick: each wake re-polls
	// exactly the child that was woken.
	for i := len(sigs) - 1; i >= 0; i-- {
		sigs[i].Fire(i * 10)
		if !ex.TryTick() {
			t.Fatalf("firing child %d did not wake the join", i)
		}
		for j, s := range sigs {
			want := 1
			if j >= i {
				want = 2
			}
			if s.Polls() != want {
				t.Fatalf("after firing child %d: child %d polled %d times, want %d", i, j, s.Polls(), want)
			}
		}
	}
	if !task.IsFinished() {
		t.Fatal("JoinAll not finished after every child fired")
	}
	got, _, _ := task.Poll(noop)
	if want := []int{0, 10, 20, 30, 40}; !reflect.DeepEqual(got, want) {
		t.Fatalf("JoinAll: got %v, want %v (the order of fs)", got, want)
	}
}

func TestJoinAllSelfWakingChildren(t *testing.T) {
	// Children that wake themselves during their own poll, with different
	// numbers of steps; each wake during a poll must lead to another poll.
	var fs []smol.Future[int]
	for i := range 20 {
		fs = append(fs, yields(i%7, i))
	}
	got := complete(t, smol.JoinAll(fs))
	for i, v := range got {
		if v != i {
			t.Fatalf("JoinAll: got %v", got)
		}
	}
}

func TestJoinAllEmpty(t *testing.T) {
	v, ok, _ := smol.JoinAll[int](nil).Poll(noop)
	if !ok || len(v) != 0 {
		t.Fatalf("JoinAll(nil): got (%v, %v), want ready and empty", v, ok)
	}
}

func TestJoinAllCopiesSlice(t *testing.T) {
	fs := []smol.Future[int]{smol.Ready(1), yields(1, 2)}
	f := smol.JoinAll(fs)
	fs[0], fs[1] = smol.Ready(-1), smol.Ready(-2)
	if got := complete(t, f); !reflect.DeepEqual(got, []int{1, 2}) {
		t.Fatalf("got %v, want [1 2]: JoinAll must not see later changes to the caller's slice", got)
	}
}

func TestRaceEarlierWinsTies(t *testing.T) {
	w, ok, _ := smol.Race(smol.Ready("a"), smol.Ready("b")).Poll(noop)
	if !ok || w.Index != 0 || w.Value != "a" {
		t.Fatalf("Race of two ready futures: got %+v, want index 0", w)
	}
	w, ok, _ = smol.Race(smol.Never[string](), smol.Ready("b"), smol.Ready("c")).Poll(noop)
	if !ok || w.Index != 1 || w.Value != "b" {
		t.Fatalf("got %+v, want index 1", w)
	}
}

func TestRaceReportsIndex(t *testing.T) {
	sigs := []*signal[string]{newSignal[string](), newSignal[string](), newSignal[string]()}
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.Race(sigs[0], sigs[1], sigs[2]))
	ex.TryTick()
	smol.SpawnOn(ex, fire(sigs[2], "third"))
	w := mustComplete(t, ex, task)
	if w.Index != 2 || w.Value != "third" {
		t.Fatalf("got %+v, want index 2", w)
	}
	// The losers are not polled again once the race is decided.
	before := sigs[0].Polls()
	sigs[0].Fire("late")
	ex.TryTick()
	if sigs[0].Polls() != before {
		t.Fatal("a loser was polled after the race finished")
	}
}

func TestRaceOfNothingNeverReady(t *testing.T) {
	if _, ok, _ := smol.Race[int]().Poll(noop); ok {
		t.Fatal("Race() is ready")
	}
}

func TestSelect(t *testing.T) {
	// Both ready: a wins.
	e, ok, _ := smol.Select(smol.Ready(1), smol.Ready("b")).Poll(noop)
	if !ok || e.Index != 0 || e.A != 1 || e.B != "" {
		t.Fatalf("Select, both ready: got %+v", e)
	}
	// Only b becomes ready.
	sig := newSignal[string]()
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.Select(smol.Never[int](), sig))
	ex.TryTick()
	smol.SpawnOn(ex, fire(sig, "b"))
	e = mustComplete(t, ex, task)
	if e.Index != 1 || e.B != "b" || e.A != 0 {
		t.Fatalf("Select, b ready: got %+v", e)
	}
}

func TestYieldNowLetsOthersRunFirst(t *testing.T) {
	// Three tasks; the first yields twice. Every other runnable task runs
	// before the yielding task resumes.
	var log []string
	step := func(s string) { log = append(log, s) }
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	a := smol.SpawnOn(ex, smol.Then(smol.PollFn(func(*smol.Context) (struct{}, bool, error) {
		step("a1")
		return struct{}{}, true, nil
	}), func(struct{}) smol.Future[struct{}] {
		return smol.Then(smol.YieldNow(), func(struct{}) smol.Future[struct{}] {
			step("a2")
			return smol.Map(smol.YieldNow(), func(struct{}) struct{} { step("a3"); return struct{}{} })
		})
	}))
	for _, name := range []string{"b", "c"} {
		smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (struct{}, bool, error) {
			step(name)
			return struct{}{}, true, nil
		}))
	}
	for ex.TryTick() {
	}
	if !a.IsFinished() {
		t.Fatal("the yielding task did not finish")
	}
	if want := []string{"a1", "b", "c", "a2", "a3"}; !reflect.DeepEqual(log, want) {
		t.Fatalf("order %v, want %v", log, want)
	}
}

func TestYieldNowPendingOnce(t *testing.T) {
	woken := 0
	cx := smol.NewContext(smol.WakerFunc(func() { woken++ }))
	y := smol.YieldNow()
	if _, ok, _ := y.Poll(cx); ok || woken != 1 {
		t.Fatalf("first poll: ready=%v, woken %d times; want pending and woken once", ok, woken)
	}
	if _, ok, _ := y.Poll(cx); !ok {
		t.Fatal("second poll not ready")
	}
}

func TestNeverIsCaughtAsHang(t *testing.T) {
	if _, ok, _ := smol.Never[int]().Poll(noop); ok {
		t.Fatal("Never is ready")
	}
	var rec hangRecorder
	complete(&rec, smol.Never[int]())
	if rec.msg == "" {
		t.Fatal("awaiting Never was not reported as a hang")
	}
	// Raced against a ready future, Never just loses.
	w := complete(t, smol.Race(smol.Never[int](), yields(1, 9)))
	if w.Index != 1 || w.Value != 9 {
		t.Fatalf("got %+v", w)
	}
}

// TestCombinatorsDeep composes every combinator and drives the whole tree
// through the hang detector, so a combinator that drops a wake fails here.
func TestCombinatorsDeep(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	sigs := []*signal[int]{newSignal[int](), newSignal[int](), newSignal[int]()}
	tree := smol.Then(
		smol.Join(
			smol.JoinAll([]smol.Future[int]{sigs[0], yields(3, 1), smol.Map(sigs[1], func(n int) int { return n * 2 })}),
			smol.Select(smol.Never[string](), smol.Map(sigs[2], strconv.Itoa)),
		),
		func(p smol.Pair[[]int, smol.Either[string, string]]) smol.Future[string] {
			return smol.Map(smol.YieldNow(), func(struct{}) string { return fmt.Sprint(p.A, p.B.B) })
		},
	)
	task := smol.SpawnOn(ex, tree)
	// Fire the signals from tasks spawned while the tree is pending.
	ex.TryTick()
	smol.SpawnOn(ex, fire(sigs[2], 7))
	smol.SpawnOn(ex, yields(2, struct{}{}))
	smol.SpawnOn(ex, smol.Then(yields(5, 0), func(int) smol.Future[struct{}] { return fire(sigs[0], 4) }))
	smol.SpawnOn(ex, smol.Then(yields(1, 0), func(int) smol.Future[struct{}] { return fire(sigs[1], 5) }))
	if got := mustComplete(t, ex, task); got != "[4 1 10]7" {
		t.Fatalf("got %q", got)
	}
}

// probeFuture is a hand-finished future that is a Discarder and records
// every breach of the Discarder contract it sees: a poll after Discard or
// after ready, a Discard after ready, a second Discard.
type probeFuture[T any] struct {
	mu       sync.Mutex
	done     bool // finished: the next poll is ready
	v        T
	err      error
	w        smol.Waker
	polls    int
	returned bool // a poll returned ready
	discards int
	misuse   []string
}

func newProbe[T any]() *probeFuture[T] { return &probeFuture[T]{} }

func (p *probeFuture[T]) Poll(cx *smol.Context) (T, bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.polls++
	if p.discards > 0 {
		p.misuse = append(p.misuse, "poll after Discard")
	}
	if p.returned {
		p.misuse = append(p.misuse, "poll after ready")
	}
	if p.done {
		p.returned = true
		return p.v, true, p.err
	}
	p.w = cx.Waker()
	var zero T
	return zero, false, nil
}

func (p *probeFuture[T]) Discard() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.returned {
		p.misuse = append(p.misuse, "Discard after ready")
	}
	if p.discards > 0 {
		p.misuse = append(p.misuse, "second Discard")
	}
	p.discards++
}

// finish makes the future ready with v and err, and wakes its waiter.
func (p *probeFuture[T]) finish(v T, err error) {
	p.mu.Lock()
	p.done, p.v, p.err = true, v, err
	w := p.w
	p.w = nil
	p.mu.Unlock()
	if w != nil {
		w.Wake()
	}
}

// check fails the test if the probe saw a breach, or was discarded a
// number of times other than want.
func (p *probeFuture[T]) check(t *testing.T, name string, wantDiscards int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.misuse) > 0 {
		t.Errorf("%s: %v", name, p.misuse)
	}
	if p.discards != wantDiscards {
		t.Errorf("%s: discarded %d times, want %d", name, p.discards, wantDiscards)
	}
}

func TestFailed(t *testing.T) {
	errBoom := errors.New("boom")
	f := smol.Failed[int](errBoom)
	for range 2 {
		if v, ok, err := f.Poll(noop); !ok || v != 0 || err != errBoom {
			t.Fatalf("Failed: got (%d, %v, %v)", v, ok, err)
		}
	}
	if _, err := completeErr(t, f); err != errBoom {
		t.Fatalf("Failed as a task: %v", err)
	}
}

func TestDiscardHelper(t *testing.T) {
	smol.Discard(smol.Ready(1)) // not a Discarder: nothing happens
	smol.Discard(nil)
	p := newProbe[int]()
	if _, ok, _ := p.Poll(noop); ok {
		t.Fatal("probe ready before finish")
	}
	smol.Discard(p)
	p.check(t, "probe", 1)
}

func TestMapAndThenPassErrorsThrough(t *testing.T) {
	errBoom := errors.New("boom")
	called := 0
	m := smol.Map(smol.Failed[int](errBoom), func(n int) string { called++; return "" })
	if v, ok, err := m.Poll(noop); !ok || v != "" || err != errBoom {
		t.Fatalf("Map of a failed future: (%q, %v, %v)", v, ok, err)
	}
	th := smol.Then(smol.Failed[int](errBoom), func(int) smol.Future[string] { called++; return smol.Ready("x") })
	if v, ok, err := th.Poll(noop); !ok || v != "" || err != errBoom {
		t.Fatalf("Then of a failed future: (%q, %v, %v)", v, ok, err)
	}
	if called != 0 {
		t.Fatalf("fn called %d times for a failed future", called)
	}
	// A failing second step fails the Then.
	th2 := smol.Then(yields(1, 2), func(n int) smol.Future[int] { return smol.Failed[int](errBoom) })
	if _, err := completeErr(t, th2); err != errBoom {
		t.Fatalf("Then with a failing second step: %v", err)
	}
	// A failure that comes later, through a task.
	p := newProbe[int]()
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.Map(p, func(n int) int { called++; return n }))
	ex.TryTick()
	p.finish(0, errBoom)
	ex.TryTick()
	if v, err := outcome(t, task); err != errBoom || v != 0 || called != 0 {
		t.Fatalf("Map of a future that failed later: (%d, %v), fn called %d times", v, err, called)
	}
	p.check(t, "mapped future", 0)
	// Map and Then forward Discard to the future they wait on.
	pm, pt1 := newProbe[int](), newProbe[int]()
	m2 := smol.Map(pm, func(n int) int { return n })
	th3 := smol.Then(pt1, func(int) smol.Future[int] { return smol.Ready(0) })
	m2.Poll(noop)
	th3.Poll(noop)
	smol.Discard(m2)
	smol.Discard(th3)
	pm.check(t, "Map's future", 1)
	pt1.check(t, "Then's first future", 1)
	pt2 := newProbe[int]()
	th4 := smol.Then(smol.Ready(0), func(int) smol.Future[int] { return pt2 })
	th4.Poll(noop)
	smol.Discard(th4)
	pt2.check(t, "Then's second future", 1)
}

func TestJoinFailsFast(t *testing.T) {
	errBoom := errors.New("boom")
	// a fails at once: b, pending, is discarded and the join fails.
	b := newProbe[string]()
	if p, ok, err := smol.Join(smol.Failed[int](errBoom), b).Poll(noop); !ok || err != errBoom || p != (smol.Pair[int, string]{}) {
		t.Fatalf("Join(failed, pending): (%+v, %v, %v)", p, ok, err)
	}
	b.check(t, "b after a failed", 1)
	// b fails while a is pending: a is discarded.
	a := newProbe[int]()
	b = newProbe[string]()
	j := smol.Join(a, b)
	if _, ok, _ := j.Poll(noop); ok {
		t.Fatal("Join ready with both pending")
	}
	b.finish("", errBoom)
	if _, ok, err := j.Poll(noop); !ok || err != errBoom {
		t.Fatalf("Join after b failed: (%v, %v)", ok, err)
	}
	a.check(t, "a after b failed", 1)
	b.check(t, "the failed b", 0)
	// a finishes first; then b fails: a, being ready, is not discarded.
	a, b = newProbe[int](), newProbe[string]()
	j = smol.Join(a, b)
	a.finish(1, nil)
	if _, ok, _ := j.Poll(noop); ok {
		t.Fatal("Join ready with b pending")
	}
	b.finish("", errBoom)
	if _, ok, err := j.Poll(noop); !ok || err != errBoom {
		t.Fatalf("Join after a was ready and b failed: (%v, %v)", ok, err)
	}
	a.check(t, "a, ready before b failed", 0)
	b.check(t, "the failed b", 0)
	// Discarding a pending join discards what is still pending.
	a, b = newProbe[int](), newProbe[string]()
	j = smol.Join(a, b)
	a.finish(1, nil)
	j.Poll(noop)
	smol.Discard(j)
	a.check(t, "a, ready before the join was discarded", 0)
	b.check(t, "b, pending when the join was discarded", 1)
}

// TestJoinFailureDoesNotDiscardReadyB: b is ready first, then a fails.
// Join must not discard b, which returned ready: the Discarder contract
// says Discard is never called after Poll returned ready (a ready channel
// receive, for one, would pass on a wake it no longer holds). The case
// where b fails after a was ready is in TestJoinFailsFast.
func TestJoinFailureDoesNotDiscardReadyB(t *testing.T) {
	errBoom := errors.New("boom")
	a, b := newProbe[int](), newProbe[string]()
	j := smol.Join(a, b)
	b.finish("b", nil)
	if _, ok, _ := j.Poll(noop); ok {
		t.Fatal("Join ready with a pending")
	}
	a.finish(0, errBoom)
	if _, ok, err := j.Poll(noop); !ok || err != errBoom {
		t.Fatalf("Join after b was ready and a failed: (%v, %v)", ok, err)
	}
	a.check(t, "the failed a", 0)
	b.check(t, "b, ready before a failed", 0)
}

func TestJoinAllFailsFast(t *testing.T) {
	errBoom := errors.New("boom")
	ps := make([]*probeFuture[int], 4)
	fs := make([]smol.Future[int], len(ps))
	for i := range ps {
		ps[i] = newProbe[int]()
		fs[i] = ps[i]
	}
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.JoinAll(fs))
	ex.TryTick()
	ps[1].finish(1, nil)
	ex.TryTick()
	ps[2].finish(0, errBoom)
	ex.TryTick()
	if v, err := outcome(t, task); err != errBoom || v != nil {
		t.Fatalf("JoinAll with a failed child: (%v, %v), want (nil, %v)", v, err, errBoom)
	}
	// The others are given up, except those already ready; none is polled
	// again.
	ps[0].check(t, "pending child 0", 1)
	ps[1].check(t, "ready child 1", 0)
	ps[2].check(t, "failed child 2", 0)
	ps[3].check(t, "pending child 3", 1)
	ps[0].finish(0, nil)
	ps[3].finish(3, nil)
	if ex.TryTick() {
		t.Fatal("a wake of a discarded child ran a task")
	}
	// Discarding a pending JoinAll discards its pending children once.
	a, b := newProbe[int](), newProbe[int]()
	j := smol.JoinAll([]smol.Future[int]{a, b})
	a.finish(1, nil)
	j.Poll(noop)
	smol.Discard(j)
	smol.Discard(j)
	a.check(t, "ready child", 0)
	b.check(t, "pending child", 1)
}

func TestRaceAndSelectReportWinnersError(t *testing.T) {
	errBoom := errors.New("boom")
	// A failed future wins a race like a ready one, and its error is the
	// race's; the losers are discarded.
	loser := newProbe[int]()
	w, ok, err := smol.Race(loser, smol.Failed[int](errBoom), smol.Ready(3)).Poll(noop)
	if !ok || err != errBoom || w.Index != 1 {
		t.Fatalf("Race with a failed future: (%+v, %v, %v)", w, ok, err)
	}
	loser.check(t, "Race loser", 1)
	// A success earlier in the order wins over a failure.
	if w, ok, err := smol.Race(smol.Ready(3), smol.Failed[int](errBoom)).Poll(noop); !ok || err != nil || w != (smol.Winner[int]{0, 3}) {
		t.Fatalf("Race, success first: (%+v, %v, %v)", w, ok, err)
	}
	// Select: the same for a or b.
	sa := newProbe[int]()
	e, ok, err := smol.Select(sa, smol.Failed[string](errBoom)).Poll(noop)
	if !ok || err != errBoom || e.Index != 1 {
		t.Fatalf("Select(pending, failed): (%+v, %v, %v)", e, ok, err)
	}
	sa.check(t, "Select's a", 1)
	sb := newProbe[string]()
	e, ok, err = smol.Select(smol.Failed[int](errBoom), sb).Poll(noop)
	if !ok || err != errBoom || e.Index != 0 {
		t.Fatalf("Select(failed, pending): (%+v, %v, %v)", e, ok, err)
	}
	sb.check(t, "Select's b", 1)
	// A failure that comes later, while both wait.
	sa, sb = newProbe[int](), newProbe[string]()
	sel := smol.Select(sa, sb)
	sel.Poll(noop)
	sb.finish("", errBoom)
	if e, ok, err := sel.Poll(noop); !ok || err != errBoom || e.Index != 1 {
		t.Fatalf("Select after b failed: (%+v, %v, %v)", e, ok, err)
	}
	sa.check(t, "Select's pending a", 1)
	sb.check(t, "Select's failed b", 0)
}
