// Command echo-net is the baseline echo server: the standard library's net
// package with one goroutine per connection, each holding a 4 KiB read
// buffer for its whole life. That is how most Go servers are written, and
// it is what the budgets in DESIGN.md call "net".
//
// Setup for one core: the driver runs it with GOMAXPROCS=1 under
// taskset -c 0; Go's runtime network poller does the rest.
package main

import (
	"errors"
	"net"
	"time"

	"github.com/smolgo/smol/bench/internal/echoserver"
)

func main() {
	cfg := echoserver.ParseFlags()
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		echoserver.Fatal("listen: %v", err)
	}
	echoserver.Ready(cfg, "net", ln.Addr().String(), "goroutine per connection, 4 KiB buffer")

	// Accept forever. An fd-limit error on accept is retried after a short
	// pause rather than spinning or giving up, as net/http does.
	var backoff time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff < time.Second {
				backoff *= 2
			}
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		go echo(c)
	}
}

// echo copies everything it reads back to the writer until the peer closes.
func echo(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
