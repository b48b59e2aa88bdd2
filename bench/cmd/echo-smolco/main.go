// Command echo-smolco is the echo server on smol with coroutine tasks: one
// LocalExecutor driven by the main goroutine, one coroutine task per
// connection written as straight-line code (read, then write all of it
// back), each with its own 4 KiB buffer, as a user writes it and as the
// Rust anchors do.
//
// Setup for one core: the driver runs it with GOMAXPROCS=1 under
// taskset -c 0.
package main

import (
	"github.com/smolgo/smol"
	"github.com/smolgo/smol/bench/internal/echoserver"
	"github.com/smolgo/smol/coro"
	"github.com/smolgo/smol/smolnet"
)

func main() {
	cfg := echoserver.ParseFlags()
	ln, err := smolnet.Listen("tcp", cfg.Addr)
	if err != nil {
		echoserver.Fatal("listen: %v", err)
	}
	echoserver.Ready(cfg, "smolco", ln.Addr().String(), "LocalExecutor, a coroutine task per connection, 4 KiB buffer each")
	ex := smol.NewLocalExecutor()
	_, err = smol.Run(ex, coro.Spawn(ex, func(co *coro.Co) (struct{}, error) {
		for {
			c, err := coro.Accept(co, ln)
			if err != nil {
				return struct{}{}, err
			}
			coro.Spawn(ex, func(co *coro.Co) (struct{}, error) { return echo(co, c) }).Detach()
		}
	}))
	echoserver.Fatal("stopped: %v", err)
}

// echo serves one connection until the peer closes it.
func echo(co *coro.Co, c *smolnet.TCPConn) (struct{}, error) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := co.Read(c, buf)
		if err != nil {
			return struct{}{}, nil // io.EOF or an error: done
		}
		if _, err := co.WriteAll(c, buf[:n]); err != nil {
			return struct{}{}, nil
		}
	}
}
