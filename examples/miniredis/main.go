// Command miniredis is a Redis-compatible (RESP2) server on the smol
// runtime: strings with expiry (GET, SET with EX/PX/NX/XX/KEEPTTL/GET, DEL,
// EXISTS, INCR, DECR, EXPIRE, TTL, PTTL, MGET, MSET), PUBLISH, SUBSCRIBE and
// UNSUBSCRIBE, PING, ECHO, QUIT, and the few commands redis-cli and
// redis-benchmark ask for (CONFIG GET, COMMAND, DBSIZE, FLUSHALL, SELECT 0).
// It answers pipelined requests in order, and malformed ones with
// redis-server's error messages.
//
//	go run ./examples/miniredis                      # 127.0.0.1:6379
//	go run ./examples/miniredis -addr :7000 -tls     # TLS, self-signed certificate
//	go run ./examples/miniredis -mode net            # goroutine-per-connection version
//	redis-cli -p 6379 set k v ex 10
//	redis-cli --tls --insecure -p 7000 ping
//
// -mode picks the engine: smol (state machines on one LocalExecutor, the
// default), coro (the same with coroutine tasks) or net (package netserver:
// a goroutine per connection on Go's net). -tls serves TLS with crypto/tls,
// with the certificate in -cert and -key, or a self-signed one made at
// start-up. SIGINT or SIGTERM drains: no new connections, requests already
// sent are answered, idle connections close, and the rest are closed after
// -drain.
//
// examples/miniredis/bench.sh compares it with redis-server under
// redis-benchmark; BENCHMARKS.md has the figures.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/smolgo/smol/examples/miniredis/core"
	"github.com/smolgo/smol/examples/miniredis/netserver"
	"github.com/smolgo/smol/examples/miniredis/server"
	"github.com/smolgo/smol/examples/smoltls"
	"github.com/smolgo/smol/smolnet"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "TCP address to listen on")
	mode := flag.String("mode", "smol", "engine: smol (state machines), coro (coroutine tasks) or net (goroutine per connection)")
	useTLS := flag.Bool("tls", false, "serve TLS (crypto/tls)")
	certFile := flag.String("cert", "", "TLS certificate file (PEM); empty: a self-signed one")
	keyFile := flag.String("key", "", "TLS key file (PEM)")
	drain := flag.Duration("drain", 5*time.Second, "on SIGINT/SIGTERM, how long to let connections finish")
	maxBulk := flag.Int("max-bulk", 0, "longest bulk string in a request, bytes (0: 64 MiB)")
	pubsubLimit := flag.Int("pubsub-limit", 0, "unwritten output at which a subscriber is disconnected, bytes (0: 8 MiB)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until the server stops")
	flag.Parse()

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatalf("miniredis: %v", err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	lim := core.Limits{MaxBulkLen: *maxBulk, MaxPubSubOutput: *pubsubLimit}
	var tlsCfg *tls.Config
	if *useTLS {
		cert, err := smoltls.LoadOrSelfSigned(*certFile, *keyFile)
		if err != nil {
			log.Fatalf("miniredis: certificate: %v", err)
		}
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	}

	var serve func() error
	var drainFn func(time.Duration)
	var bound string
	switch *mode {
	case "smol", "coro":
		ln, err := smolnet.Listen("tcp", *addr)
		if err != nil {
			log.Fatalf("miniredis: %v", err)
		}
		style := server.Stackless
		if *mode == "coro" {
			style = server.Coroutine
		}
		srv := server.New(server.Options{Limits: lim, Style: style, TLS: tlsCfg})
		serve, drainFn, bound = func() error { return srv.Serve(ln) }, srv.Drain, ln.Addr().String()
	case "net":
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			log.Fatalf("miniredis: %v", err)
		}
		srv := netserver.New(netserver.Options{Limits: lim, TLS: tlsCfg})
		serve, drainFn, bound = func() error { return srv.Serve(ln) }, srv.Drain, ln.Addr().String()
	default:
		log.Fatalf("miniredis: unknown -mode %q (smol, coro or net)", *mode)
	}

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		log.Printf("miniredis: %v: draining (up to %v)", s, *drain)
		drainFn(*drain)
	}()
	fmt.Printf("miniredis: mode=%s tls=%v addr=%s pid=%d gomaxprocs=%d\n", *mode, *useTLS, bound, os.Getpid(), runtime.GOMAXPROCS(0))
	if err := serve(); err != nil {
		log.Printf("miniredis: %v", err)
		return
	}
	log.Printf("miniredis: drained")
}
