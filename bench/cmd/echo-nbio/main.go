// Command echo-nbio is an echo server on github.com/lesismal/nbio v1.5.12.
//
// Setup for one core: one poller (NPoller: 1), level-triggered epoll (the
// default), the default 64 KiB read buffer shared by the poller, no write
// buffer limit. The echo is done in OnData on the poller goroutine, as
// nbio's echo example does. The driver runs it with GOMAXPROCS=1 under
// taskset -c 0.
package main

import (
	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"

	"github.com/smolgo/smol/bench/internal/echoserver"
)

func main() {
	cfg := echoserver.ParseFlags()
	logging.SetLevel(logging.LevelError)
	eng := nbio.NewEngine(nbio.Config{
		Network: "tcp",
		Addrs:   []string{cfg.Addr},
		NPoller: 1,
	})
	eng.OnData(func(c *nbio.Conn, data []byte) {
		_, _ = c.Write(data)
	})
	if err := eng.Start(); err != nil {
		echoserver.Fatal("nbio: %v", err)
	}
	echoserver.Ready(cfg, "nbio", cfg.Addr, "nbio v1.5.12, 1 poller, LT epoll")
	select {}
}
