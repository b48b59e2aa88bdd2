package smol_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
	"github.com/smolgo/smol/clock"
)

func ExampleReady() {
	v, err := smol.BlockOn(smol.Ready("hello"))
	fmt.Println(v, err)
	// Output: hello <nil>
}

func ExampleFailed() {
	// A future that fails at once; Map passes the error through without
	// calling its function.
	f := smol.Map(smol.Failed[int](errors.New("no such thing")), func(n int) int { return n + 1 })
	v, err := smol.BlockOn(f)
	fmt.Println(v, err)
	// Output: 0 no such thing
}

func ExamplePollFn() {
	// A future written as a closure: pending twice, then ready. A pending
	// poll must arrange a wake; this one wakes its task at once.
	polls := 0
	f := smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		polls++
		if polls < 3 {
			cx.Waker().Wake()
			return 0, false, nil
		}
		return polls, true, nil
	})
	n, _ := smol.BlockOn(f)
	fmt.Println("ready after", n, "polls")
	// Output: ready after 3 polls
}

func ExampleMap() {
	f := smol.Map(smol.Ready(21), func(n int) string { return fmt.Sprint(n * 2) })
	fmt.Println(smol.BlockOn(f))
	// Output: 42 <nil>
}

func ExampleThen() {
	// Two asynchronous steps in sequence: the second is built from the
	// first one's value.
	f := smol.Then(smol.Ready("smol"), func(name string) smol.Future[string] {
		return smol.Map(smol.YieldNow(), func(struct{}) string { return "hello, " + name })
	})
	v, _ := smol.BlockOn(f)
	fmt.Println(v)
	// Output: hello, smol
}

func ExampleJoin() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	a := smol.SpawnOn(ex, smol.Ready(1))
	b := smol.SpawnOn(ex, smol.Ready("one"))
	p, _ := smol.Run(ex, smol.Join(a, b))
	fmt.Println(p.A, p.B)

	// If either fails, Join fails at once with that error.
	c := smol.SpawnOn(ex, smol.Failed[string](errors.New("c failed")))
	_, err := smol.Run(ex, smol.Join(smol.Never[int](), c))
	fmt.Println(err)
	// Output:
	// 1 one
	// c failed
}

func ExampleJoinAll() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	var fs []smol.Future[int]
	for i := range 5 {
		fs = append(fs, smol.SpawnOn(ex, smol.Map(smol.YieldNow(), func(struct{}) int { return i * i })))
	}
	squares, _ := smol.Run(ex, smol.JoinAll(fs))
	fmt.Println(squares)
	// Output: [0 1 4 9 16]
}

func ExampleRace() {
	// The first future found ready wins; on a tie the earlier one does.
	slow := smol.Then(smol.YieldNow(), func(struct{}) smol.Future[string] { return smol.Ready("slow") })
	w, _ := smol.BlockOn(smol.Race(slow, smol.Ready("fast"), smol.Ready("also fast")))
	fmt.Println(w.Index, w.Value)
	// Output: 1 fast
}

func ExampleSelect() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A future that never finishes, raced against a canceled context: the
	// context wins, and its error is the select's.
	e, err := smol.BlockOn(smol.Select(smol.Never[int](), smol.ContextDone(ctx)))
	fmt.Println(e.Index, err)
	// Output: 1 context canceled
}

func ExampleYieldNow() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	// The first task yields in the middle; the second runs meanwhile.
	smol.SpawnOn(ex, smol.Then(smol.Map(smol.Ready(0), func(int) struct{} {
		fmt.Println("a: before yield")
		return struct{}{}
	}), func(struct{}) smol.Future[struct{}] {
		return smol.Map(smol.YieldNow(), func(struct{}) struct{} {
			fmt.Println("a: after yield")
			return struct{}{}
		})
	}))
	smol.SpawnOn(ex, smol.Map(smol.Ready(0), func(int) int {
		fmt.Println("b")
		return 0
	}))
	for ex.TryTick() {
	}
	// Output:
	// a: before yield
	// b
	// a: after yield
}

func ExampleNever() {
	// Never loses every race; a Never awaited alone parks its task until
	// the executor is closed.
	w, _ := smol.BlockOn(smol.Race(smol.Never[string](), smol.Ready("the other one")))
	fmt.Println(w.Value)

	ex := smol.NewLocalExecutor()
	task := smol.SpawnOn(ex, smol.Never[int]())
	ex.TryTick()
	ex.Close()
	_, err := smol.BlockOn(task)
	fmt.Println(err)
	// Output:
	// the other one
	// smol: executor closed
}

func ExampleSpawnOn() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	// Spawned tasks run, in the order they were woken, while Run drives the
	// executor until its own future is ready.
	for i := range 3 {
		smol.SpawnOn(ex, smol.Map(smol.Ready(i), func(n int) int {
			fmt.Println("task", n)
			return n
		}))
	}
	last := smol.SpawnOn(ex, smol.Ready("done"))
	v, err := smol.Run(ex, last)
	fmt.Println(v, err)
	// Output:
	// task 0
	// task 1
	// task 2
	// done <nil>
}

func ExampleNewExecutor() {
	ex := smol.NewExecutor()
	// Two goroutines become workers by calling Run; each runs until its
	// own future is ready (here: until the executor is closed).
	done := make(chan error)
	for range 2 {
		go func() {
			_, err := smol.Run(ex, smol.Never[struct{}]())
			done <- err
		}()
	}
	var fs []smol.Future[int]
	for i := 1; i <= 100; i++ {
		fs = append(fs, smol.SpawnOn(ex, smol.Map(smol.YieldNow(), func(struct{}) int { return i })))
	}
	sum, err := smol.BlockOn(smol.Map(smol.JoinAll(fs), func(vs []int) int {
		s := 0
		for _, v := range vs {
			s += v
		}
		return s
	}))
	fmt.Println("sum:", sum, err)
	ex.Close()
	fmt.Println(<-done, <-done)
	// Output:
	// sum: 5050 <nil>
	// smol: executor closed smol: executor closed
}

func ExampleTask_Cancel() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	forever := smol.SpawnOn(ex, smol.Never[int]())
	quick := smol.SpawnOn(ex, smol.Ready(7))
	for ex.TryTick() {
	}
	// Cancel of a task still pending stops it: awaiting it then fails
	// with ErrCanceled.
	forever.Cancel()
	v, err := smol.BlockOn(forever)
	fmt.Println(v, err)
	// Cancel of a completed task changes nothing: its output is kept.
	quick.Cancel()
	v, err = smol.BlockOn(quick)
	fmt.Println(v, err)
	// Output:
	// 0 smol: task canceled
	// 7 <nil>
}

func ExampleTask_Detach() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	smol.SpawnOn(ex, smol.Map(smol.YieldNow(), func(struct{}) int {
		fmt.Println("detached task ran")
		return 0
	})).Detach()
	smol.Run(ex, smol.Then(smol.YieldNow(), func(struct{}) smol.Future[struct{}] { return smol.YieldNow() }))
	// Output: detached task ran
}

func ExampleBlockOn() {
	ex := smol.NewExecutor()
	defer ex.Close()
	go smol.Run(ex, smol.Never[struct{}]())
	task := smol.SpawnOn(ex, smol.Map(smol.YieldNow(), func(struct{}) string { return "from a task" }))
	// BlockOn parks this goroutine until the task is done.
	fmt.Println(smol.BlockOn(task))
	// Output: from a task <nil>
}

func ExampleWait() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := smol.Wait(ctx, smol.Never[int]())
	fmt.Println(err)

	v, err := smol.Wait(context.Background(), smol.Ready(3))
	fmt.Println(v, err)
	// Output:
	// context deadline exceeded
	// 3 <nil>
}

func ExampleContextDone() {
	ctx, cancel := context.WithCancel(context.Background())
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	// A task's work, raced against ctx: the task fails with ctx's error
	// once ctx is done. No goroutine waits for ctx meanwhile.
	work := smol.SpawnOn(ex, smol.Select(smol.Never[int](), smol.ContextDone(ctx)))
	go cancel()
	_, err := smol.Run(ex, work)
	fmt.Println("stopped:", err)
	// Output: stopped: context canceled
}

func ExampleWithPanicHandler() {
	ex := smol.NewLocalExecutor(smol.WithPanicHandler(func(p *smol.PanicError) {
		fmt.Println("task panicked:", p.Value)
	}))
	defer ex.Close()
	smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) { panic("oops") })).Detach()
	for ex.TryTick() {
	}
	// Output: task panicked: oops
}

func ExamplePanicError() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.PollFn(func(*smol.Context) (int, bool, error) { panic("bad input") }))
	defer func() {
		// Awaiting the task re-raises its panic with the original value.
		p := recover().(*smol.PanicError)
		fmt.Println(p.Value)
	}()
	smol.Run(ex, task)
	// Output: bad input
}

func ExampleLocalExecutor_DumpTasks() {
	clk := clock.NewManual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ex := smol.NewLocalExecutor(smol.WithClock(clk))
	defer ex.Close()
	smol.SpawnOn(ex, smol.Sleep(time.Hour))
	_, rx := channel.New[string](1)
	smol.SpawnOn(ex, rx.Recv())
	for ex.TryTick() {
	}
	// Each task that has waited, newest first, and what it waits on.
	ex.DumpTasks(os.Stdout)
	// Output:
	// LocalExecutor: 2 tasks
	// task 2 waiting, 1 polls: recv channel (0/1 queued)
	// task 1 waiting, 1 polls: timer timer at 01:00:00.000000 (in 1h0m0s)
}
