package server_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/examples/miniredis/core"
	"github.com/smolgo/smol/examples/miniredis/netserver"
	"github.com/smolgo/smol/examples/miniredis/server"
	"github.com/smolgo/smol/smolnet"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/smolgo/smol.(*reactor).fallback"),
		goleak.IgnoreAnyFunction("github.com/smolgo/smol.(*BlockingPool).work"),
	)
}

// config is what a test asks of a server, whatever its engine.
type config struct {
	limits core.Limits
	tls    *tls.Config
	smol   []smol.Option // the smol engines only
}

// running is a server started by a test.
type running struct {
	addr    string
	drain   func(time.Duration)
	clients func() int
	done    chan error // Serve's result
	logs    *logBuf
}

// engine starts a server of one kind.
type engine struct {
	name  string
	start func(t *testing.T, cfg config) *running
}

// logBuf collects a server's log lines.
type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.lines)
}

var engines = []engine{
	{"smol", func(t *testing.T, cfg config) *running { return startSmol(t, cfg, server.Stackless) }},
	{"coro", func(t *testing.T, cfg config) *running { return startSmol(t, cfg, server.Coroutine) }},
	{"net", startNet},
}

func startSmol(t *testing.T, cfg config, style server.Style) *running {
	t.Helper()
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{addr: ln.Addr().String(), done: make(chan error, 1), logs: new(logBuf)}
	srv := server.New(server.Options{Limits: cfg.limits, Style: style, TLS: cfg.tls, Logf: r.logs.logf, Smol: cfg.smol})
	r.drain, r.clients = srv.Drain, srv.Clients
	go func() { r.done <- srv.Serve(ln) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func startNet(t *testing.T, cfg config) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &running{addr: ln.Addr().String(), done: make(chan error, 1), logs: new(logBuf)}
	srv := netserver.New(netserver.Options{Limits: cfg.limits, TLS: cfg.tls, Logf: r.logs.logf})
	r.drain, r.clients = srv.Drain, srv.Clients
	go func() { r.done <- srv.Serve(ln) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop drains the server at once and waits for Serve.
func (r *running) stop(t *testing.T) {
	r.drain(0)
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Serve: %v", err)
		}
		close(r.done)
	case <-time.After(10 * time.Second):
		t.Errorf("Serve did not return 10 s after Drain(0)")
	}
}

// forEngine runs f as a subtest per engine.
func forEngine(t *testing.T, f func(t *testing.T, e engine)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) { f(t, e) })
	}
}

// client is a small RESP client.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) *client {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// errReply is an error reply.
type errReply string

// encode returns args as a RESP multibulk request.
func encode(args ...string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"...)
		b = append(b, a...)
		b = append(b, "\r\n"...)
	}
	return b
}

// do sends one request and reads its reply.
func (c *client) do(args ...string) any {
	c.t.Helper()
	c.send(encode(args...))
	return c.read()
}

func (c *client) send(b []byte) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.c.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read reads one reply: a string for a status, errReply, int64, []byte or
// nil for a bulk, []any for an array.
func (c *client) read() any {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	v, err := readReply(c.br)
	if err != nil {
		c.t.Fatalf("read reply: %v", err)
	}
	return v
}

func readReply(br *bufio.Reader) (any, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("bad reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return errReply(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(br, b); err != nil {
			return nil, err
		}
		return b[:n], nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, nil
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = readReply(br); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf("bad reply type in %q", line)
}

// expectClosed checks that the server closes the connection (after any
// bytes it still sends, which are returned).
func (c *client) expectClosed(within time.Duration) []byte {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(within))
	rest, err := io.ReadAll(c.br)
	if err != nil && !isReset(err) {
		c.t.Fatalf("connection not closed by the server: %v (read %q)", err, rest)
	}
	return rest
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// show formats a reply for messages.
func show(v any) string {
	switch v := v.(type) {
	case []byte:
		return strconv.Quote(string(v))
	case []any:
		var b bytes.Buffer
		b.WriteString("[")
		for i, e := range v {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(show(e))
		}
		b.WriteString("]")
		return b.String()
	case nil:
		return "nil"
	}
	return fmt.Sprintf("%T(%v)", v, v)
}

func (c *client) expect(want any, args ...string) {
	c.t.Helper()
	got := c.do(args...)
	if show(got) != show(want) {
		c.t.Errorf("%q: got %s, want %s", args, show(got), show(want))
	}
}

// alive checks that the server still serves a new client.
func alive(t *testing.T, addr string) {
	t.Helper()
	c := dial(t, addr)
	c.expect("PONG", "PING")
	c.c.Close()
}

func env(name string) string { return os.Getenv(name) }
