// Command echo-smol is the echo server on smol with state-machine tasks:
// one LocalExecutor driven by the main goroutine (which also drives the
// reactor), one small task per connection, no goroutine per connection, and
// one read buffer shared by all connections (see internal/echo).
//
// Setup for one core: the driver runs it with GOMAXPROCS=1 under
// taskset -c 0.
package main

import (
	"github.com/smolgo/smol"
	"github.com/smolgo/smol/bench/internal/echoserver"
	"github.com/smolgo/smol/internal/echo"
	"github.com/smolgo/smol/smolnet"
)

func main() {
	cfg := echoserver.ParseFlags()
	ln, err := smolnet.Listen("tcp", cfg.Addr)
	if err != nil {
		echoserver.Fatal("listen: %v", err)
	}
	echoserver.Ready(cfg, "smol", ln.Addr().String(), "LocalExecutor, a state machine per connection, shared read buffer")
	ex := smol.NewLocalExecutor()
	_, err = smol.Run(ex, echo.NewServer(ln, ex))
	echoserver.Fatal("stopped: %v", err)
}
