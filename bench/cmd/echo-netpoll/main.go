// Command echo-netpoll is an echo server on github.com/cloudwego/netpoll
// v0.7.2.
//
// Setup for one core: one poller (Config.PollerNum: 1), netpoll's own
// listener, and the default runner (bytedance gopool), which is how Kitex
// and Hertz use it. OnRequest reads with the zero-copy Reader.Next, copies
// into a Writer.Malloc buffer and flushes, as netpoll's guide shows. The
// driver runs it with GOMAXPROCS=1 under taskset -c 0.
package main

import (
	"context"

	"github.com/cloudwego/netpoll"

	"github.com/smolgo/smol/bench/internal/echoserver"
)

func handle(_ context.Context, c netpoll.Connection) error {
	r, w := c.Reader(), c.Writer()
	defer r.Release()
	n := r.Len()
	if n == 0 {
		return nil
	}
	in, err := r.Next(n)
	if err != nil {
		return err
	}
	out, err := w.Malloc(n)
	if err != nil {
		return err
	}
	copy(out, in)
	return w.Flush()
}

func main() {
	cfg := echoserver.ParseFlags()
	if err := netpoll.Configure(netpoll.Config{PollerNum: 1}); err != nil {
		echoserver.Fatal("netpoll configure: %v", err)
	}
	ln, err := netpoll.CreateListener("tcp", cfg.Addr)
	if err != nil {
		echoserver.Fatal("listen: %v", err)
	}
	el, err := netpoll.NewEventLoop(handle)
	if err != nil {
		echoserver.Fatal("netpoll: %v", err)
	}
	echoserver.Ready(cfg, "netpoll", ln.Addr().String(), "netpoll v0.7.2, 1 poller, gopool runner")
	if err := el.Serve(ln); err != nil {
		echoserver.Fatal("serve: %v", err)
	}
}
