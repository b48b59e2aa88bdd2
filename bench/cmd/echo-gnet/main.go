// Command echo-gnet is an echo server on github.com/panjf2000/gnet/v2
// v2.5.7.
//
// Setup for one core, as gnet's own echo benchmark runs it: one event loop
// (WithMulticore(false)), level-triggered epoll (the default), TCP_NODELAY
// on (the default), no ticker, no worker pool. The echo is done inside
// OnTraffic on the loop goroutine with Next(-1) and Write, the zero-copy
// path gnet recommends. The driver runs it with GOMAXPROCS=1 under
// taskset -c 0.
package main

import (
	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"

	"github.com/smolgo/smol/bench/internal/echoserver"
)

type echo struct {
	gnet.BuiltinEventEngine
	cfg *echoserver.Config
}

// OnBoot runs once the listener exists, just before the loops start; a
// connection that arrives in between waits in the accept backlog.
func (e *echo) OnBoot(gnet.Engine) gnet.Action {
	echoserver.Ready(e.cfg, "gnet", e.cfg.Addr, "gnet v2.5.7, 1 event loop, LT epoll")
	return gnet.None
}

// OnTraffic echoes everything that arrived.
func (e *echo) OnTraffic(c gnet.Conn) gnet.Action {
	buf, _ := c.Next(-1)
	_, _ = c.Write(buf)
	return gnet.None
}

func main() {
	cfg := echoserver.ParseFlags()
	err := gnet.Run(&echo{cfg: cfg}, "tcp://"+cfg.Addr,
		gnet.WithMulticore(false),
		gnet.WithLogLevel(logging.ErrorLevel))
	if err != nil {
		echoserver.Fatal("gnet: %v", err)
	}
}
