package server_test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/clock"
	"github.com/smolgo/smol/examples/miniredis/core"
)

func b(s string) []byte { return []byte(s) }

// TestCommands runs every command, its options and its errors through the
// in-test client, on each engine.
func TestCommands(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		r := e.start(t, config{})
		c := dial(t, r.addr)
		c.expect("PONG", "PING")
		c.expect(b("hi"), "PING", "hi")
		c.expect(errReply("ERR wrong number of arguments for 'ping' command"), "PING", "a", "b")
		c.expect(b("x y"), "ECHO", "x y")
		c.expect(nil, "GET", "k")
		c.expect("OK", "SET", "k", "v")
		c.expect(b("v"), "get", "k")
		c.expect(nil, "SET", "k", "w", "NX")
		c.expect("OK", "SET", "k", "w", "XX")
		c.expect(nil, "SET", "nokey", "w", "XX")
		c.expect(b("w"), "SET", "k", "z", "GET")
		c.expect(errReply("ERR syntax error"), "SET", "k", "v", "NX", "XX")
		c.expect(errReply("ERR syntax error"), "SET", "k", "v", "EX")
		c.expect(errReply("ERR syntax error"), "SET", "k", "v", "EX", "1", "PX", "1")
		c.expect(errReply("ERR value is not an integer or out of range"), "SET", "k", "v", "EX", "ten")
		c.expect(errReply("ERR invalid expire time in 'set' command"), "SET", "k", "v", "EX", "0")
		c.expect(errReply("ERR invalid expire time in 'set' command"), "SET", "k", "v", "PX", "-5")
		c.expect("OK", "SET", "t", "v", "EX", "100")
		c.expect(int64(100), "TTL", "t")
		c.expect("OK", "SET", "t", "v2", "KEEPTTL")
		c.expect(int64(100), "TTL", "t")
		c.expect("OK", "SET", "t", "v3")
		c.expect(int64(-1), "TTL", "t")
		c.expect(int64(-2), "TTL", "missing")
		c.expect(int64(1), "EXPIRE", "t", "50")
		c.expect(int64(0), "EXPIRE", "t", "60", "NX")
		c.expect(int64(1), "EXPIRE", "t", "60", "GT")
		c.expect(int64(60), "TTL", "t")
		c.expect(int64(0), "EXPIRE", "missing", "10")
		c.expect(errReply("ERR Unsupported option bogus"), "EXPIRE", "t", "10", "bogus")
		c.expect(int64(1), "EXPIRE", "t", "-1")
		c.expect(int64(0), "EXISTS", "t")
		c.expect(int64(1), "INCR", "n")
		c.expect(int64(2), "INCR", "n")
		c.expect(int64(1), "DECR", "n")
		c.expect(int64(-1), "DECR", "d")
		c.expect(errReply("ERR value is not an integer or out of range"), "INCR", "k")
		c.expect("OK", "SET", "big", "9223372036854775807")
		c.expect(errReply("ERR increment or decrement would overflow"), "INCR", "big")
		c.expect("OK", "MSET", "a", "1", "b", "2")
		c.expect([]any{b("1"), b("2"), nil}, "MGET", "a", "b", "c")
		c.expect(errReply("ERR wrong number of arguments for 'mset' command"), "MSET", "a", "1", "b")
		c.expect(int64(3), "EXISTS", "a", "b", "a", "c")
		c.expect(int64(2), "DEL", "a", "b", "c")
		c.expect(int64(0), "PUBLISH", "ch", "nobody")
		c.expect(errReply("ERR unknown command 'foo', with args beginning with: 'bar' 'baz' "), "foo", "bar", "baz")
		c.expect(errReply("ERR unknown command 'foo', with args beginning with: "), "foo")
		c.expect(errReply("ERR wrong number of arguments for 'get' command"), "GET")
		c.expect(errReply("ERR wrong number of arguments for 'set' command"), "SET", "k")
		c.expect([]any{b("save"), b(""), b("appendonly"), b("no")}, "CONFIG", "GET", "save", "appendonly")
		c.expect("OK", "QUIT")
		c.expectClosed(5 * time.Second)
		alive(t, r.addr)
	})
}

// TestSameRepliesAsRedisServer sends the same requests, valid and not, to
// miniredis and to redis-server (if installed) and wants the same bytes
// back: the error messages are redis-server's own.
func TestSameRepliesAsRedisServer(t *testing.T) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (apt-get install -y redis-server, or run examples/miniredis/bench.sh once); the in-test client checks still ran in TestCommands")
	}
	addr := startRedisServer(t, path)
	mine := engines[0].start(t, config{})
	requests := [][]byte{
		encode("PING"), encode("PING", "x"), encode("PING", "a", "b"), encode("ECHO"),
		encode("SET", "k", "v"), encode("GET", "k"), encode("GET"), encode("SET", "k"),
		encode("SET", "k", "v", "NX", "XX"), encode("SET", "k", "v", "EX", "ten"),
		encode("SET", "k", "v", "EX", "0"), encode("SET", "k", "v", "PX", "-1"),
		encode("SET", "k", "v", "EX", "99999999999999999"), encode("SET", "k", "v", "KEEPTTL", "EX", "5"),
		encode("SET", "k", "v", "BOGUS"), encode("INCR", "k"), encode("SET", "n", "9223372036854775807"),
		encode("INCR", "n"), encode("DECR", "k2"), encode("MSET", "a", "1", "b"), encode("MGET", "a", "zz"),
		encode("EXPIRE", "a", "x"), encode("EXPIRE", "a", "10", "NX", "XX"), encode("EXPIRE", "a", "10", "GT", "LT"),
		encode("EXPIRE", "a", "10", "foo"), encode("TTL", "a"), encode("TTL"), encode("DEL"),
		encode("foo"), encode("foo", "bar", "baz"), encode("foo", strings.Repeat("x", 200), "y"),
		encode("foo\x00bar", "a\x00b"), encode("foo", "a\r\nb"),
		[]byte("PING\r\n"), []byte("ECHO \"a b\" \r\n"), []byte("SET 'q' \"x\\ty\\x41\"\r\n"), []byte("GET q\r\n"),
		[]byte("\r\n"), []byte("*0\r\n"), []byte("*-1\r\n"), []byte("  \r\n"),
		encode("SUBSCRIBE", "c1", "c2"), encode("GET", "k"), encode("PING"), encode("PING", "m"),
		encode("UNSUBSCRIBE", "c1"), encode("UNSUBSCRIBE"), encode("UNSUBSCRIBE"),
	}
	for _, req := range requests {
		got, want := roundTrip(t, mine.addr, req), roundTrip(t, addr, req)
		if got != want {
			t.Errorf("request %q:\nminiredis    %q\nredis-server %q", req, got, want)
		}
	}
	// Malformed requests: the reply and the close.
	for _, req := range [][]byte{
		[]byte("*1\r\nxyz\r\n"), []byte("*abc\r\n"), []byte("*2\r\n$3\r\nGET\r\n$-5\r\n"),
		[]byte("*2\r\n$3\r\nGET\r\n$99999999999\r\n"), []byte("*99999999999999\r\n"), []byte("SET \"abc\r\n"),
		[]byte("SET 'a'b\r\n"), []byte("*1\r\n$\r\n"), []byte("*1\r\n$01\r\nx\r\n"), []byte("*+1\r\n"),
	} {
		got, want := closeTrip(t, mine.addr, req), closeTrip(t, addr, req)
		if got != want {
			t.Errorf("malformed %q:\nminiredis    %q\nredis-server %q", req, got, want)
		}
	}
}

// startRedisServer starts redis-server on a free port, without
// persistence, for the test's lifetime.
func startRedisServer(t *testing.T, path string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir(), "--logfile", "")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if i == 100 {
			t.Fatalf("redis-server did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// roundTrip sends req on a connection that stays open across calls (one
// per address) and returns the raw reply bytes that arrive within a short
// while; requests that get no reply return "".
var conns = map[string]net.Conn{}

func roundTrip(t *testing.T, addr string, req []byte) string {
	t.Helper()
	c := conns[addr]
	if c == nil {
		var err error
		if c, err = net.Dial("tcp", addr); err != nil {
			t.Fatal(err)
		}
		conns[addr] = c
		t.Cleanup(func() { c.Close(); delete(conns, addr) })
	}
	c.Write(req)
	// A PING after the request marks the end of its replies.
	c.Write(encode("PING", "end-of-reply"))
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.HasSuffix(got, []byte("end-of-reply\r\n")) && !bytes.HasSuffix(got, []byte("end-of-reply\r\n")) {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("%s: %q: %v after %q", addr, req, err, got)
		}
		got = append(got, buf[:n]...)
	}
	// Drop the marker's reply (a bulk, or in subscribed mode a pong array).
	s := string(got)
	s = strings.TrimSuffix(s, "$12\r\nend-of-reply\r\n")
	s = strings.TrimSuffix(s, "*2\r\n$4\r\npong\r\n")
	return s
}

// closeTrip sends req on a new connection and returns what arrives until
// the server closes it.
func closeTrip(t *testing.T, addr string, req []byte) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(req)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return string(got) + " (not closed)"
			}
			return string(got)
		}
	}
}

// TestRedisCLI drives the server with redis-cli, if installed.
func TestRedisCLI(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed (apt-get install -y redis-tools, or run examples/miniredis/bench.sh once); the in-test client checks still ran in TestCommands")
	}
	forEngine(t, func(t *testing.T, e engine) {
		r := e.start(t, config{})
		host, port, _ := net.SplitHostPort(r.addr)
		run := func(want string, args ...string) {
			t.Helper()
			out, err := exec.Command(cli, append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
			if err != nil {
				t.Fatalf("redis-cli %q: %v: %s", args, err, out)
			}
			if got := strings.TrimSpace(string(out)); got != want {
				t.Errorf("redis-cli %q: got %q, want %q", args, got, want)
			}
		}
		run("PONG", "PING")
		run("OK", "SET", "greeting", "hello world", "EX", "100")
		run("hello world", "GET", "greeting")
		if out, _ := exec.Command(cli, "-h", host, "-p", port, "TTL", "greeting").Output(); strings.TrimSpace(string(out)) != "100" && strings.TrimSpace(string(out)) != "99" {
			t.Errorf("TTL after EX 100: %q", out)
		}
		run("1", "INCR", "counter")
		run("OK", "MSET", "a", "1", "b", "2")
		run("1\n2", "MGET", "a", "b", "missing") // the missing key is an empty line
		run("ERR unknown command 'NOSUCH', with args beginning with: 'x'", "NOSUCH", "x")
		// Many commands through one connection, redis-cli reading stdin.
		cmd := exec.Command(cli, "-h", host, "-p", port)
		var in strings.Builder
		for i := range 100 {
			fmt.Fprintf(&in, "INCR piped\n")
			_ = i
		}
		in.WriteString("GET piped\n")
		cmd.Stdin = strings.NewReader(in.String())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("redis-cli with stdin: %v: %s", err, out)
		}
		if lines := strings.Fields(string(out)); len(lines) != 101 || lines[99] != "100" || lines[100] != "100" {
			t.Errorf("redis-cli with 100 INCR then GET on stdin: got %d lines ending %q", len(lines), lines[max(0, len(lines)-2):])
		}
	})
}

// TestMalformed sends broken requests: each gets redis-server's protocol
// error and a closed connection (or, where redis-server accepts it, a
// normal reply), and after each the server still serves a new client.
func TestMalformed(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		r := e.start(t, config{limits: core.Limits{MaxBulkLen: 1024, MaxInlineLen: 4096}})
		for _, tc := range []struct {
			name, req, reply string
			closed           bool
		}{
			{"bulk length over the limit", "*2\r\n$3\r\nGET\r\n$2000\r\n", "-ERR Protocol error: invalid bulk length\r\n", true},
			{"negative bulk length", "*2\r\n$3\r\nGET\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n", true},
			{"multibulk count not a number", "*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n", true},
			{"multibulk count too big", "*99999999999\r\n", "-ERR Protocol error: invalid multibulk length\r\n", true},
			{"bulk without $", "*1\r\nxyz\r\n", "-ERR Protocol error: expected '$', got 'x'\r\n", true},
			{"count line too long", "*" + strings.Repeat("1", 5000), "-ERR Protocol error: too big mbulk count string\r\n", true},
			{"garbage without newline", "\x01\x02" + strings.Repeat("\xff", 5000), "-ERR Protocol error: too big inline request\r\n", true},
			{"unbalanced quotes", "SET \"abc\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n", true},
			{"negative multibulk count is an empty request", "*-5\r\n*1\r\n$4\r\nPING\r\n", "+PONG\r\n", false},
			{"garbage line", "\xff\xfe\x01garbage here\r\n", "-ERR unknown command '\xff\xfe\x01garbage', with args beginning with: 'here' \r\n", false},
			{"error replies stay on one line", "*2\r\n$3\r\nf\no\r\n$3\r\na\rb\r\n", "-ERR unknown command 'f o', with args beginning with: 'a b' \r\n", false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := dial(t, r.addr)
				c.send([]byte(tc.req))
				want := []byte(tc.reply)
				got := make([]byte, len(want))
				c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := readFull(c, got); err != nil || !bytes.Equal(got, want) {
					t.Fatalf("got %q (%v), want %q", got, err, want)
				}
				if tc.closed {
					if rest := c.expectClosed(10 * time.Second); len(rest) > 0 {
						t.Errorf("more after the error: %q", rest)
					}
				} else {
					c.expect("PONG", "PING")
				}
				alive(t, r.addr)
			})
		}
		t.Run("truncated array then end of stream", func(t *testing.T) {
			c := dial(t, r.addr)
			c.send([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n"))
			c.c.(*net.TCPConn).CloseWrite()
			if rest := c.expectClosed(10 * time.Second); len(rest) > 0 {
				t.Errorf("reply to a truncated request: %q", rest)
			}
			alive(t, r.addr)
		})
		t.Run("truncated array waits for the rest", func(t *testing.T) {
			c := dial(t, r.addr)
			c.send([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$"))
			c.send([]byte("2\r\nv"))
			c.send([]byte("v\r\n"))
			if got := c.read(); got != "OK" {
				t.Fatalf("got %s", show(got))
			}
			c.expect(b("vv"), "GET", "k")
			alive(t, r.addr)
		})
		t.Run("binary key and value", func(t *testing.T) {
			c := dial(t, r.addr)
			key, val := "a\r\nb\x00c*$-1\r\n", "\x00\r\n\xff"
			c.expect("OK", "SET", key, val)
			c.expect(b(val), "GET", key)
			c.expect(int64(1), "EXISTS", key)
			c.expect(int64(0), "EXISTS", "a")
			alive(t, r.addr)
		})
	})
}

func readFull(c *client, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := c.br.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// TestPipelining sends hundreds of commands in one write and checks the
// replies, in order.
func TestPipelining(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		r := e.start(t, config{})
		c := dial(t, r.addr)
		const n = 300
		var req []byte
		for i := range n {
			req = append(req, encode("SET", "key"+strconv.Itoa(i), strings.Repeat("v", i))...)
			req = append(req, encode("INCR", "counter")...)
			req = append(req, encode("GET", "key"+strconv.Itoa(i))...)
		}
		req = append(req, "PING\r\n"...) // inline, between multibulks
		c.send(req)
		for i := range n {
			if got := c.read(); got != "OK" {
				t.Fatalf("reply %d to SET: %s", i, show(got))
			}
			if got := c.read(); got != int64(i+1) {
				t.Fatalf("reply %d to INCR: %s", i, show(got))
			}
			if got := c.read(); show(got) != show(b(strings.Repeat("v", i))) {
				t.Fatalf("reply %d to GET: %s", i, show(got))
			}
		}
		if got := c.read(); got != "PONG" {
			t.Fatalf("last reply: %s", show(got))
		}
	})
}

// TestPipelineLargerThanOutputPause pipelines replies far beyond the
// output pause while the client does not read, then reads them all: the
// server holds back, and loses nothing.
func TestPipelineLargerThanOutputPause(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		r := e.start(t, config{limits: core.Limits{OutputPause: 4096}})
		c := dial(t, r.addr)
		c.expect("OK", "SET", "big", strings.Repeat("x", 10000))
		const n = 2000 // 20 MB of replies
		var req []byte
		for range n {
			req = append(req, encode("GET", "big")...)
		}
		go c.c.Write(req) // the server stops reading while we do not read
		time.Sleep(100 * time.Millisecond)
		for i := range n {
			if got, ok := c.read().([]byte); !ok || len(got) != 10000 {
				t.Fatalf("reply %d: %d bytes", i, len(got))
			}
		}
	})
}

// TestExpiry moves a manual clock: keys expire actively (DBSIZE drops
// without anyone touching them) and lazily, and TTL counts down, with no
// sleeping. The smol engines only: net's timers are the real clock's.
func TestExpiry(t *testing.T) {
	for _, e := range engines[:2] {
		t.Run(e.name, func(t *testing.T) {
			clk := clock.NewManual(time.Unix(1_000_000, 0))
			r := e.start(t, config{smol: []smol.Option{smol.WithClock(clk)}})
			c := dial(t, r.addr)
			c.expect("OK", "SET", "k", "v", "EX", "10")
			c.expect("OK", "SET", "p", "v", "PX", "2500")
			c.expect("OK", "SET", "forever", "v")
			c.expect(int64(10), "TTL", "k")
			c.expect(int64(2500), "PTTL", "p")
			clk.Advance(2 * time.Second)
			c.expect(int64(8), "TTL", "k")
			c.expect(int64(500), "PTTL", "p")
			clk.Advance(500 * time.Millisecond)
			waitDBSize(t, c, 2) // p went by the timer
			c.expect(nil, "GET", "p")
			c.expect(int64(1), "EXPIRE", "forever", "100")
			c.expect("OK", "SET", "k", "v2", "EX", "1000") // a later deadline replaces the earlier
			clk.Advance(10 * time.Second)
			c.expect(b("v2"), "GET", "k")
			c.expect(int64(990), "TTL", "k")
			// Many keys at once: more than one batch of the expiry task.
			var req []byte
			for i := range 2500 {
				req = append(req, encode("SET", "many"+strconv.Itoa(i), "v", "EX", strconv.Itoa(1+i%3))...)
			}
			c.send(req)
			for range 2500 {
				c.read()
			}
			waitDBSize(t, c, 2502)
			clk.Advance(3 * time.Second)
			waitDBSize(t, c, 2)
			clk.Advance(1000 * time.Second)
			waitDBSize(t, c, 0)
			c.expect(int64(-2), "TTL", "k")
		})
	}
}

// waitDBSize waits until DBSIZE reports n: active expiry runs on the
// server's goroutine after the clock moved.
func waitDBSize(t *testing.T, c *client, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := c.do("DBSIZE")
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("DBSIZE %s, want %d", show(got), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestExpiryRealClock checks the net engine's timer, and the smol engine on
// the real clock, with a short time to live.
func TestExpiryRealClock(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		r := e.start(t, config{})
		c := dial(t, r.addr)
		c.expect("OK", "SET", "k", "v", "PX", "30")
		waitDBSize(t, c, 0)
	})
}

// TestPubSub subscribes, publishes, and checks subscribed mode's rules.
func TestPubSub(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		r := e.start(t, config{})
		sub := dial(t, r.addr)
		sub.expect([]any{b("subscribe"), b("news"), int64(1)}, "SUBSCRIBE", "news")
		sub.send(encode("SUBSCRIBE", "sport"))
		if got := show(sub.read()); got != show([]any{b("subscribe"), b("sport"), int64(2)}) {
			t.Fatalf("second SUBSCRIBE: %s", got)
		}
		pub := dial(t, r.addr)
		for i := range 3 {
			pub.expect(int64(1), "PUBLISH", "news", "item "+strconv.Itoa(i))
		}
		pub.expect(int64(0), "PUBLISH", "weather", "rain")
		for i := range 3 {
			if got := show(sub.read()); got != show([]any{b("message"), b("news"), b("item " + strconv.Itoa(i))}) {
				t.Fatalf("message %d: %s", i, got)
			}
		}
		sub.expect(errReply("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"), "GET", "x")
		sub.expect([]any{b("pong"), b("")}, "PING")
		sub.expect([]any{b("unsubscribe"), b("news"), int64(1)}, "UNSUBSCRIBE", "news")
		pub.expect(int64(0), "PUBLISH", "news", "late")
		sub.expect([]any{b("unsubscribe"), b("sport"), int64(0)}, "UNSUBSCRIBE")
		sub.expect("PONG", "PING") // out of subscribed mode
		sub.expect([]any{b("unsubscribe"), nil, int64(0)}, "UNSUBSCRIBE")
		// A subscriber that goes away is forgotten.
		sub2 := dial(t, r.addr)
		sub2.expect([]any{b("subscribe"), b("x"), int64(1)}, "SUBSCRIBE", "x")
		sub2.c.Close()
		deadline := time.Now().Add(10 * time.Second)
		for pub.do("PUBLISH", "x", "anyone?") != int64(0) {
			if time.Now().After(deadline) {
				t.Fatal("a closed subscriber still counted 10 s later")
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// TestSlowSubscriberDisconnected publishes to a subscriber that never
// reads: once its unwritten output passes the limit it is disconnected,
// with a log line, and the publisher and others are unaffected.
func TestSlowSubscriberDisconnected(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		const limit = 64 << 10
		r := e.start(t, config{limits: core.Limits{MaxPubSubOutput: limit}})
		sub := dial(t, r.addr)
		sub.c.(*net.TCPConn).SetReadBuffer(4096)
		sub.expect([]any{b("subscribe"), b("firehose"), int64(1)}, "SUBSCRIBE", "firehose")
		pub := dial(t, r.addr)
		msg := strings.Repeat("m", 1000)
		// The kernel buffers some (the server's send buffer grows to a few
		// MiB on loopback); past that the server's own buffer fills.
		sent := 0
		for ; sent < 100_000; sent++ {
			if pub.do("PUBLISH", "firehose", msg) == int64(0) {
				break
			}
		}
		if sent == 100_000 {
			t.Fatalf("subscriber still connected after %d messages of %d bytes", sent, len(msg))
		}
		t.Logf("disconnected after %d messages (%d KiB); log: %s", sent, sent*len(msg)>>10, r.logs)
		if !strings.Contains(r.logs.String(), "output buffer") || !strings.Contains(r.logs.String(), "pubsub") {
			t.Errorf("no log line for the disconnect: %s", r.logs)
		}
		for deadline := time.Now().Add(10 * time.Second); r.clients() != 1; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d clients 10 s after the subscriber was dropped, want the publisher only", r.clients())
			}
		}
		// (The client would see the end of the stream only after reading
		// the megabytes the kernel still holds for it, through its small
		// window; the server's count of clients is the check.)
		alive(t, r.addr)
		pub.expect("PONG", "PING")
	})
}

// TestDrain starts a drain with a pipelined batch in flight, an idle
// client and a client halfway through a request: the batch gets all its
// replies, the idle client is closed at once, new connections are
// refused, and the half-sent request's connection is closed at the
// deadline; then Serve returns.
func TestDrain(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		r := e.start(t, config{})
		busy, idle, half := dial(t, r.addr), dial(t, r.addr), dial(t, r.addr)
		idle.expect("PONG", "PING")
		half.expect("PONG", "PING")
		half.send([]byte("*2\r\n$3\r\nGET\r\n$5\r\nab"))
		const n = 1000
		var batch []byte
		for range n {
			batch = append(batch, encode("INCR", "c")...)
		}
		busy.send(batch) // on loopback, in the server's socket buffer once written
		const grace = 700 * time.Millisecond
		start := time.Now()
		r.drain(grace)
		for i := range n {
			if got := busy.read(); got != int64(i+1) {
				t.Fatalf("reply %d: %s", i, show(got))
			}
		}
		busy.expectClosed(10 * time.Second)
		idle.expectClosed(10 * time.Second)
		if d := time.Since(start); d > grace {
			t.Errorf("the idle and busy connections closed %v after the drain began, not before the deadline (%v)", d, grace)
		}
		// New connections are refused (once the listener is closed, which
		// Drain does first, but asynchronously).
		refused := false
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			c, err := net.Dial("tcp", r.addr)
			if err != nil {
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("dial during the drain: %v", err)
				}
				refused = true
				break
			}
			c.Close()
		}
		if !refused {
			t.Error("new connections still accepted 5 s after the drain began")
		}
		half.expectClosed(10 * time.Second)
		if d := time.Since(start); d < grace-50*time.Millisecond {
			t.Errorf("the connection with a partial request closed %v after the drain began, before the deadline %v", d, grace)
		}
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
			r.done <- nil // for the cleanup's stop
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after the drain")
		}
		if n := r.clients(); n != 0 {
			t.Errorf("%d clients after the drain", n)
		}
	})
}

// TestDrainSubscriber: a subscriber has nothing in progress and is closed
// at once by a drain.
func TestDrainSubscriber(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		r := e.start(t, config{})
		sub := dial(t, r.addr)
		sub.expect([]any{b("subscribe"), b("x"), int64(1)}, "SUBSCRIBE", "x")
		start := time.Now()
		r.drain(time.Minute)
		sub.expectClosed(10 * time.Second)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("closed after %v", d)
		}
	})
}
