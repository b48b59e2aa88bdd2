package smol_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/smolgo/smol"
)

func ExampleReady() {
	v := smol.BlockOn(smol.Ready("hello"))
	fmt.Println(v)
	// Output: hello
}

func ExamplePollFn() {
	// A future written as a closure: pending twice, then ready. A pending
	// poll must arrange a wake; this one wakes its task at once.
	polls := 0
	f := smol.PollFn[int](func(cx *smol.Context) (int, bool) {
		polls++
		if polls < 3 {
			cx.Waker().Wake()
			return 0, false
		}
		return polls, true
	})
	fmt.Println("ready after", smol.BlockOn(f), "polls")
	// Output: ready after 3 polls
}

func ExampleMap() {
	f := smol.Map(smol.Ready(21), func(n int) string { return fmt.Sprint(n * 2) })
	fmt.Println(smol.BlockOn(f))
	// Output: 42
}

func ExampleThen() {
	// Two asynchronous steps in sequence: the second is built from the
	// first one's value.
	f := smol.Then(smol.Ready("smol"), func(name string) smol.Future[string] {
		return smol.Map(smol.YieldNow(), func(struct{}) string { return "hello, " + name })
	})
	fmt.Println(smol.BlockOn(f))
	// Output: hello, smol
}

func ExampleJoin() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	a := smol.SpawnOn(ex, smol.Ready(1))
	b := smol.SpawnOn(ex, smol.Ready("one"))
	p, _ := smol.Run(ex, smol.Join[int, string](a, b))
	fmt.Println(p.A, p.B)
	// Output: 1 one
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
	w := smol.BlockOn(smol.Race(slow, smol.Ready("fast"), smol.Ready("also fast")))
	fmt.Println(w.Index, w.Value)
	// Output: 1 fast
}

func ExampleSelect() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A future that never finishes, raced against a canceled context.
	e := smol.BlockOn(smol.Select(smol.Never[int](), smol.ContextDone(ctx)))
	fmt.Println(e.Index, e.B)
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
	w := smol.BlockOn(smol.Race(smol.Never[string](), smol.Ready("the other one")))
	fmt.Println(w.Value)

	ex := smol.NewLocalExecutor()
	task := smol.SpawnOn(ex, smol.Never[int]())
	ex.TryTick()
	ex.Close()
	fmt.Println(task.Err())
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
	v, err := smol.Run(ex, smol.Future[string](last))
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
	sum := smol.BlockOn(smol.Map(smol.JoinAll(fs), func(vs []int) int {
		s := 0
		for _, v := range vs {
			s += v
		}
		return s
	}))
	fmt.Println("sum:", sum)
	ex.Close()
	fmt.Println(<-done, <-done)
	// Output:
	// sum: 5050
	// smol: executor closed smol: executor closed
}

func ExampleTask_Cancel() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	forever := smol.SpawnOn(ex, smol.Never[int]())
	quick := smol.SpawnOn(ex, smol.Ready(7))
	for ex.TryTick() {
	}
	// Cancel of a task still pending stops it and reports false.
	v, ok := forever.Cancel()
	fmt.Println(v, ok, forever.Err())
	// Cancel of a completed task returns its output.
	v, ok = quick.Cancel()
	fmt.Println(v, ok, quick.Err())
	// Output:
	// 0 false smol: task canceled
	// 7 true <nil>
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
	fmt.Println(smol.BlockOn(smol.Future[string](task)))
	// Output: from a task
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
	// A task stops when ctx is done; no goroutine waits for ctx meanwhile.
	watcher := smol.SpawnOn(ex, smol.Map(smol.ContextDone(ctx), func(err error) string {
		return "stopped: " + err.Error()
	}))
	go cancel()
	v, _ := smol.Run(ex, smol.Future[string](watcher))
	fmt.Println(v)
	// Output: stopped: context canceled
}

func ExampleUnblock() {
	// A blocking call runs on the blocking pool; the future is awaited like
	// any other.
	f := smol.Unblock(func() string {
		b, err := os.ReadFile("/proc/self/stat")
		if err != nil {
			return err.Error()
		}
		return strings.Fields(string(b))[1] // the command name, in parentheses
	})
	name := smol.BlockOn(f)
	fmt.Println(strings.HasPrefix(name, "("))
	// Output: true
}

func ExampleWithPanicHandler() {
	ex := smol.NewLocalExecutor(smol.WithPanicHandler(func(p *smol.PanicError) {
		fmt.Println("task panicked:", p.Value)
	}))
	defer ex.Close()
	smol.SpawnOn(ex, smol.PollFn[int](func(*smol.Context) (int, bool) { panic("oops") })).Detach()
	for ex.TryTick() {
	}
	// Output: task panicked: oops
}

func ExamplePanicError() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, smol.PollFn[int](func(*smol.Context) (int, bool) { panic("bad input") }))
	defer func() {
		// Awaiting the task re-raises its panic with the original value.
		p := recover().(*smol.PanicError)
		fmt.Println(p.Value)
	}()
	smol.Run(ex, smol.Future[int](task))
	// Output: bad input
}
