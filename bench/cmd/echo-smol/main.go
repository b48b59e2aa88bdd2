// Command echo-smol is the echo server on smol with state-machine tasks:
// one LocalExecutor driven by the main goroutine (which also drives the
// reactor), one small task per connection, no goroutine per connection, and
// one read buffer shared by all connections (see internal/echo).
//
// Setup for one core: the driver runs it with GOMAXPROCS=1 under
// taskset -c 0.
//
// -budget N gives the executor a cooperative budget of N units per poll
// instead of the default (smol.WithBudget); a huge value turns the forced
// yields off, which is how bench/ab.sh measures what the budget costs.
//
// -backend B sets SMOL_BACKEND=B before anything starts (epoll, uring,
// uring-completion), so that bench/ab.sh can compare two settings of one
// build: -args-a "-backend epoll" -args-b "-backend uring-completion".
package main

import (
	"flag"
	"os"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/bench/internal/echoserver"
	"github.com/smolgo/smol/internal/echo"
	"github.com/smolgo/smol/smolnet"
)

func main() {
	budget := flag.Int("budget", 0, "cooperative budget per poll (0: the default)")
	backend := flag.String("backend", "", "set SMOL_BACKEND to this before starting (empty: leave it)")
	cfg := echoserver.ParseFlags()
	if *backend != "" {
		os.Setenv("SMOL_BACKEND", *backend)
	}
	ln, err := smolnet.Listen("tcp", cfg.Addr)
	if err != nil {
		echoserver.Fatal("listen: %v", err)
	}
	echoserver.Ready(cfg, "smol", ln.Addr().String(), "LocalExecutor, a state machine per connection, shared read buffer")
	var opts []smol.Option
	if *budget > 0 {
		opts = append(opts, smol.WithBudget(*budget))
	}
	ex := smol.NewLocalExecutor(opts...)
	_, err = smol.Run(ex, echo.NewServer(ln, ex))
	echoserver.Fatal("stopped: %v", err)
}
