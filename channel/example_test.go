package channel_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
)

// Two tasks talk through a bounded channel; the receiver drains it after
// the sender closes its handle.
func Example() {
	tx, rx := channel.New[string](2)
	ex := smol.NewLocalExecutor()

	// The sender: a future written as a small state machine.
	words := []string{"one", "two", "three"}
	var send *channel.SendFuture[string]
	sender := smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
		for len(words) > 0 {
			if send == nil {
				send = tx.Send(words[0])
			}
			if _, ok, _ := send.Poll(cx); !ok {
				return struct{}{}, false, nil // the channel is full
			}
			send, words = nil, words[1:]
		}
		tx.Close() // the last sender: the channel closes
		return struct{}{}, true, nil
	}))
	sender.Detach()

	// The receiver runs as the main future of Run.
	var got []string
	recv := rx.Recv()
	smol.Run(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
		for {
			v, ok, err := recv.Poll(cx)
			if !ok {
				return struct{}{}, false, nil
			}
			if err != nil {
				return struct{}{}, true, nil // closed and drained
			}
			got = append(got, v)
			recv = rx.Recv()
		}
	}))
	fmt.Println(got)
	// Output: [one two three]
}

// A goroutine feeds a channel with the blocking send; a task receives.
// This is the way to move values from goroutine code into tasks: no
// goroutine sits between the two.
func ExampleSender_SendBlocking() {
	tx, rx := channel.NewUnbounded[int]()
	go func() {
		defer tx.Close()
		for i := 1; i <= 3; i++ {
			tx.SendBlocking(i * 10)
		}
	}()

	sum := 0
	for {
		v, err := smol.Wait(context.Background(), rx.Recv())
		if errors.Is(err, channel.ErrClosed) {
			break
		}
		sum += v
	}
	fmt.Println("sum:", sum)
	// Output: sum: 60
}

// A send to a closed channel hands the value back inside the error.
func ExampleSendError() {
	tx, rx := channel.New[string](1)
	rx.Close() // the last receiver: the channel closes

	err := tx.SendBlocking("hello")
	var se *channel.SendError[string]
	if errors.As(err, &se) {
		fmt.Println(errors.Is(err, channel.ErrClosed), se.Value)
	}
	// Output: true hello
}

// Receiving from a Go channel in a task.
func ExampleFromGo() {
	done := make(chan string)
	go func() { done <- "finished" }()
	v, _ := smol.BlockOn(channel.FromGo(done))
	fmt.Println(v)
	// Output: finished
}

// TryRecv and TrySend never wait.
func ExampleReceiver_TryRecv() {
	tx, rx := channel.New[int](1)
	fmt.Println(tx.TrySend(1), tx.TrySend(2))
	v, err := rx.TryRecv()
	fmt.Println(v, err)
	_, err = rx.TryRecv()
	fmt.Println(err)
	// Output:
	// <nil> channel: full
	// 1 <nil>
	// channel: empty
}
