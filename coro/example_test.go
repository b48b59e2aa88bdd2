package coro_test

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/channel"
	"github.com/smolgo/smol/coro"
	"github.com/smolgo/smol/smolnet"
)

// The echo server, one coroutine task per connection, written the way
// goroutine code is: read, write back, until the peer closes. A client,
// also a coroutine, checks the echo.
func Example_echo() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()

	// The server: accept, and spawn an echo coroutine per connection.
	coro.Spawn(ex, func(co *coro.Co) (struct{}, error) {
		for {
			c, err := coro.Accept(co, ln)
			if err != nil {
				return struct{}{}, err // the listener was closed
			}
			coro.Spawn(co.Executor(), func(co *coro.Co) (struct{}, error) {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := co.Read(c, buf)
					if err != nil { // io.EOF: the peer closed
						return struct{}{}, nil
					}
					if _, err := co.WriteAll(c, buf[:n]); err != nil {
						return struct{}{}, err
					}
				}
			}).Detach()
		}
	}).Detach()

	// A client.
	client := coro.Spawn(ex, func(co *coro.Co) (string, error) {
		c, err := coro.Await(co, smolnet.Dial("tcp", ln.AddrPort().String()))
		if err != nil {
			return "", err
		}
		defer c.Close()
		var got []string
		for _, msg := range []string{"hello", "coroutine", "world"} {
			if _, err := co.WriteAll(c, []byte(msg)); err != nil {
				return "", err
			}
			buf := make([]byte, len(msg))
			if _, err := co.ReadFull(c, buf); err != nil {
				return "", err
			}
			got = append(got, string(buf))
		}
		return strings.Join(got, " "), nil
	})
	fmt.Println(smol.Run(ex, client))
	// Output: hello coroutine world <nil>
}

// A three-stage pipeline over bounded channels: generate, square, sum.
// Each stage is a coroutine that reads like goroutine code; the channels'
// bounds give back-pressure between the stages.
func Example_pipeline() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	nums, numsIn := channel.New[int](2)
	squares, squaresIn := channel.New[int](2)

	coro.Spawn(ex, func(co *coro.Co) (struct{}, error) {
		defer nums.Close() // the last sender: the channel closes
		for i := 1; i <= 10; i++ {
			if err := coro.Send(co, nums, i); err != nil {
				return struct{}{}, err
			}
		}
		return struct{}{}, nil
	}).Detach()
	coro.Spawn(ex, func(co *coro.Co) (struct{}, error) {
		defer squares.Close()
		for {
			n, err := coro.Recv(co, numsIn)
			if err != nil { // closed and drained
				return struct{}{}, nil
			}
			if err := coro.Send(co, squares, n*n); err != nil {
				return struct{}{}, err
			}
		}
	}).Detach()
	sum := coro.Spawn(ex, func(co *coro.Co) (int, error) {
		total := 0
		for {
			sq, err := coro.Recv(co, squaresIn)
			if err == channel.ErrClosed {
				return total, nil
			}
			if err != nil {
				return 0, err
			}
			total += sq
		}
	})
	fmt.Println(smol.Run(ex, sum))
	// Output: 385 <nil>
}

// A line-based chat room: clients join, and every line a client sends goes
// to every other client. Each client has a bounded outbox, drained by its
// own writer coroutine: a slow client's outbox fills and then its
// sender waits (back-pressure), instead of the room buffering without
// bound. bufio works inside a coroutine through Co.IOReader. Three clients
// here are coroutines too, on the same executor.
func Example_chat() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()
	room := newRoom()
	coro.Spawn(ex, func(co *coro.Co) (struct{}, error) {
		for {
			c, err := coro.Accept(co, ln)
			if err != nil {
				return struct{}{}, err
			}
			coro.Spawn(co.Executor(), func(co *coro.Co) (struct{}, error) { return room.serve(co, c) }).Detach()
		}
	}).Detach()

	// Three clients: each joins, waits until all have joined, says one
	// line, and reads the other two clients' lines.
	names := []string{"ann", "bob", "cid"}
	joined := 0
	var clients []*smol.Task[[]string]
	for _, name := range names {
		clients = append(clients, coro.Spawn(ex, func(co *coro.Co) ([]string, error) {
			c, err := coro.Await(co, smolnet.Dial("tcp", ln.AddrPort().String()))
			if err != nil {
				return nil, err
			}
			defer c.Close()
			in := bufio.NewReader(co.IOReader(c))
			fmt.Fprintf(co.IOWriter(c), "%s\n", name)      // the first line is the name
			if _, err := in.ReadString('\n'); err != nil { // "welcome\n"
				return nil, err
			}
			for joined++; joined < len(names); {
				co.Yield()
			}
			fmt.Fprintf(co.IOWriter(c), "hi from %s\n", name)
			var heard []string
			for len(heard) < len(names)-1 {
				line, err := in.ReadString('\n')
				if err != nil {
					return heard, err
				}
				heard = append(heard, strings.TrimSpace(line))
			}
			slices.Sort(heard) // the lines of different senders race on the network
			return heard, nil
		}))
	}
	for i, c := range clients {
		heard, err := smol.Run(ex, c)
		fmt.Println(names[i], "heard", heard, err)
	}
	// Output:
	// ann heard [bob: hi from bob cid: hi from cid] <nil>
	// bob heard [ann: hi from ann cid: hi from cid] <nil>
	// cid heard [ann: hi from ann bob: hi from bob] <nil>
}

// room is the chat room's state: the members' outboxes. The executor runs
// one coroutine at a time, so the map needs no lock.
type room struct {
	members map[string]*channel.Sender[string]
}

func newRoom() *room { return &room{members: map[string]*channel.Sender[string]{}} }

// outboxSize bounds what the room holds for one slow client.
const outboxSize = 16

// serve runs one member: a writer coroutine drains its outbox to the
// socket; this coroutine reads its lines and sends each to the others'
// outboxes, waiting when an outbox is full.
func (r *room) serve(co *coro.Co, c *smolnet.TCPConn) (struct{}, error) {
	defer c.Close()
	in := bufio.NewReader(co.IOReader(c))
	name, err := in.ReadString('\n')
	if err != nil {
		return struct{}{}, err
	}
	name = strings.TrimSpace(name)
	out, outRx := channel.New[string](outboxSize)
	r.members[name] = out
	defer func() { delete(r.members, name); out.Close() }()
	coro.Spawn(co.Executor(), func(co *coro.Co) (struct{}, error) {
		w := co.IOWriter(c)
		for {
			line, err := coro.Recv(co, outRx)
			if err != nil {
				return struct{}{}, nil // the member left
			}
			if _, err := io.WriteString(w, line); err != nil {
				return struct{}{}, err
			}
		}
	}).Detach()
	if err := coro.Send(co, out, "welcome\n"); err != nil {
		return struct{}{}, err
	}
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return struct{}{}, nil // the member hung up
		}
		for other, box := range r.members {
			if other != name {
				// A full outbox makes this sender wait: back-pressure.
				if err := coro.Send(co, box, name+": "+line); err != nil {
					continue // the other left meanwhile
				}
			}
		}
	}
}
