package smol_test

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"

	"github.com/smolgo/smol"
)

// noop is a context for polling a future by hand.
var noop = smol.NewContext(smol.NoopWaker)

func TestReady(t *testing.T) {
	f := smol.Ready("x")
	for range 2 {
		if v, ok := f.Poll(noop); !ok || v != "x" {
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
	f := smol.PollFn[string](func(cx *smol.Context) (string, bool) {
		polls++
		if polls < 3 {
			cx.Waker().Wake()
			return "", false
		}
		return "done", true
	})
	if got := complete(t, f); got != "done" || polls != 3 {
		t.Fatalf("got %q after %d polls, want \"done\" after 3", got, polls)
	}
}

func TestMap(t *testing.T) {
	sig := newSignal[int]()
	f := smol.Map(smol.Future[int](sig), strconv.Itoa)
	if _, ok := f.Poll(noop); ok {
		t.Fatal("Map ready before its future")
	}
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	// A second task fires the signal after the mapped future is pending.
	task := smol.SpawnOn(ex, f)
	ex.TryTick()
	smol.SpawnOn(ex, fire(sig, 42))
	if got := mustComplete(t, ex, smol.Future[string](task)); got != "42" {
		t.Fatalf("got %q, want \"42\"", got)
	}
}

func TestThen(t *testing.T) {
	// The first step waits for a signal fired by another task; the second
	// step yields twice. Each wake must reach the chain's task.
	sig := newSignal[int]()
	var calls int
	f := smol.Then(smol.Future[int](sig), func(n int) smol.Future[string] {
		calls++
		return yields(2, fmt.Sprint("n=", n))
	})
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, f)
	ex.TryTick()
	smol.SpawnOn(ex, fire(sig, 5))
	if got := mustComplete(t, ex, smol.Future[string](task)); got != "n=5" || calls != 1 {
		t.Fatalf("got %q with fn called %d times, want \"n=5\" once", got, calls)
	}
	// A ready first step goes straight to the second.
	g := smol.Then(smol.Ready(2), func(n int) smol.Future[int] { return smol.Ready(n * 10) })
	if v, ok := g.Poll(noop); !ok || v != 20 {
		t.Fatalf("Then of ready futures: got (%d, %v)", v, ok)
	}
}

// recorder returns a future that appends name to *log at each poll and is
// ready on its n-th poll, waking itself before that.
func recorder(log *[]string, name string, n int) smol.Future[string] {
	polls := 0
	return smol.PollFn[string](func(cx *smol.Context) (string, bool) {
		polls++
		*log = append(*log, name)
		if polls < n {
			cx.Waker().Wake()
			return "", false
		}
		return name, true
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
	got, _ := task.Poll(noop)
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
	v, ok := smol.JoinAll[int](nil).Poll(noop)
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
	w, ok := smol.Race(smol.Ready("a"), smol.Ready("b")).Poll(noop)
	if !ok || w.Index != 0 || w.Value != "a" {
		t.Fatalf("Race of two ready futures: got %+v, want index 0", w)
	}
	w, ok = smol.Race(smol.Never[string](), smol.Ready("b"), smol.Ready("c")).Poll(noop)
	if !ok || w.Index != 1 || w.Value != "b" {
		t.Fatalf("got %+v, want index 1", w)
	}
}

func TestRaceReportsIndex(t *testing.T) {
	sigs := []*signal[string]{newSignal[string](), newSignal[string](), newSignal[string]()}
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.Race[string](sigs[0], sigs[1], sigs[2]))
	ex.TryTick()
	smol.SpawnOn(ex, fire(sigs[2], "third"))
	w := mustComplete(t, ex, smol.Future[smol.Winner[string]](task))
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
	if _, ok := smol.Race[int]().Poll(noop); ok {
		t.Fatal("Race() is ready")
	}
}

func TestSelect(t *testing.T) {
	// Both ready: a wins.
	e, ok := smol.Select(smol.Ready(1), smol.Ready("b")).Poll(noop)
	if !ok || e.Index != 0 || e.A != 1 || e.B != "" {
		t.Fatalf("Select, both ready: got %+v", e)
	}
	// Only b becomes ready.
	sig := newSignal[string]()
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.Select(smol.Never[int](), smol.Future[string](sig)))
	ex.TryTick()
	smol.SpawnOn(ex, fire(sig, "b"))
	e = mustComplete(t, ex, smol.Future[smol.Either[int, string]](task))
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
	a := smol.SpawnOn(ex, smol.Then(smol.PollFn[struct{}](func(*smol.Context) (struct{}, bool) {
		step("a1")
		return struct{}{}, true
	}), func(struct{}) smol.Future[struct{}] {
		return smol.Then(smol.YieldNow(), func(struct{}) smol.Future[struct{}] {
			step("a2")
			return smol.Map(smol.YieldNow(), func(struct{}) struct{} { step("a3"); return struct{}{} })
		})
	}))
	for _, name := range []string{"b", "c"} {
		smol.SpawnOn(ex, smol.PollFn[struct{}](func(*smol.Context) (struct{}, bool) {
			step(name)
			return struct{}{}, true
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
	if _, ok := y.Poll(cx); ok || woken != 1 {
		t.Fatalf("first poll: ready=%v, woken %d times; want pending and woken once", ok, woken)
	}
	if _, ok := y.Poll(cx); !ok {
		t.Fatal("second poll not ready")
	}
}

func TestNeverIsCaughtAsHang(t *testing.T) {
	if _, ok := smol.Never[int]().Poll(noop); ok {
		t.Fatal("Never is ready")
	}
	var rec hangRecorder
	complete[int](&rec, smol.Never[int]())
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
			smol.JoinAll([]smol.Future[int]{sigs[0], yields(3, 1), smol.Map(smol.Future[int](sigs[1]), func(n int) int { return n * 2 })}),
			smol.Select(smol.Never[string](), smol.Map(smol.Future[int](sigs[2]), strconv.Itoa)),
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
	if got := mustComplete(t, ex, smol.Future[string](task)); got != "[4 1 10]7" {
		t.Fatalf("got %q", got)
	}
}
