package server_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/clock"
	"github.com/smolgo/smol/examples/smoltls"
)

// tlsConfigs returns a server configuration with a fresh self-signed
// certificate and a client configuration that trusts it.
func tlsConfigs(t *testing.T) (srv, cli *tls.Config) {
	t.Helper()
	cert, err := smoltls.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &tls.Config{Certificates: []tls.Certificate{cert}}, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// TestTLS runs commands, a pipeline and pub/sub over TLS with Go's
// tls.Client, on each engine.
func TestTLS(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		scfg, ccfg := tlsConfigs(t)
		r := e.start(t, config{tls: scfg})
		c := dialTLS(t, r.addr, ccfg)
		c.expect("PONG", "PING")
		c.expect("OK", "SET", "k", strings.Repeat("v", 100_000)) // several records
		if got, _ := c.do("GET", "k").([]byte); len(got) != 100_000 {
			t.Fatalf("GET of 100,000 bytes over TLS: %d", len(got))
		}
		var req []byte
		for i := range 300 {
			req = append(req, encode("INCR", "n")...)
			_ = i
		}
		c.send(req)
		for i := range 300 {
			if got := c.read(); got != int64(i+1) {
				t.Fatalf("pipelined reply %d: %s", i, show(got))
			}
		}
		sub := dialTLS(t, r.addr, ccfg)
		sub.expect([]any{b("subscribe"), b("ch"), int64(1)}, "SUBSCRIBE", "ch")
		c.expect(int64(1), "PUBLISH", "ch", "over tls")
		if got := show(sub.read()); got != show([]any{b("message"), b("ch"), b("over tls")}) {
			t.Fatalf("message: %s", got)
		}
		c.expect("OK", "QUIT")
		c.expectClosed(10 * time.Second)
		// A client that is not speaking TLS fails its handshake; others
		// are unaffected.
		plain, err := net.Dial("tcp", r.addr)
		if err != nil {
			t.Fatal(err)
		}
		plain.Write(encode("PING"))
		plain.SetReadDeadline(time.Now().Add(10 * time.Second))
		io.ReadAll(plain)
		plain.Close()
		c2 := dialTLS(t, r.addr, ccfg)
		c2.expect(b("still here"), "ECHO", "still here")
	})
}

// TestTLSRedisCLI drives the TLS server with redis-cli --tls, if installed.
func TestTLSRedisCLI(t *testing.T) {
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Skip("redis-cli not installed (apt-get install -y redis-tools); TestTLS checked TLS with Go's tls.Client")
	}
	forEngine(t, func(t *testing.T, e engine) {
		scfg, _ := tlsConfigs(t)
		r := e.start(t, config{tls: scfg})
		host, port, _ := net.SplitHostPort(r.addr)
		out, err := exec.Command(cli, "--tls", "--insecure", "-h", host, "-p", port, "SET", "tls", "yes").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "OK" {
			t.Fatalf("redis-cli --tls SET: %v: %q", err, out)
		}
		out, err = exec.Command(cli, "--tls", "--insecure", "-h", host, "-p", port, "GET", "tls").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "yes" {
			t.Fatalf("redis-cli --tls GET: %v: %q", err, out)
		}
	})
}

// TestTLSOpenSSL sends inline commands through openssl s_client, if
// installed; QUIT makes the server close, which ends s_client.
func TestTLSOpenSSL(t *testing.T) {
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed (apt-get install -y openssl); TestTLS checked TLS with Go's tls.Client")
	}
	forEngine(t, func(t *testing.T, e engine) {
		scfg, _ := tlsConfigs(t)
		r := e.start(t, config{tls: scfg})
		cmd := exec.Command(path, "s_client", "-connect", r.addr, "-quiet")
		cmd.Stdin = strings.NewReader("PING\r\nSET greeting \"hello world\"\r\nGET greeting\r\nQUIT\r\n")
		done := make(chan struct{})
		var out []byte
		go func() {
			out, _ = cmd.Output()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("openssl s_client did not end 20 s after QUIT; output %q", out)
		}
		if want := "+PONG\r\n+OK\r\n$11\r\nhello world\r\n+OK\r\n"; string(out) != want {
			t.Errorf("openssl s_client: got %q, want %q", out, want)
		}
	})
}

// TestTLSHandshakeTimeout connects without ever starting the handshake: on
// a manual clock, the server closes the connection once its handshake
// timeout has passed, and not before.
func TestTLSHandshakeTimeout(t *testing.T) {
	for _, e := range engines[:2] {
		t.Run(e.name, func(t *testing.T) {
			scfg, ccfg := tlsConfigs(t)
			clk := clock.NewManual(time.Unix(1_000_000, 0))
			r := e.start(t, config{tls: scfg, smol: []smol.Option{smol.WithClock(clk)}})
			c, err := net.Dial("tcp", r.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Not closed while the clock stands still.
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
				t.Fatalf("closed before the handshake timeout: %v", err)
			}
			// The handshake's coroutine takes its deadline when it first
			// runs; advance past it until the server gives up.
			for i := 0; ; i++ {
				clk.Advance(11 * time.Second)
				c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				_, err := c.Read(make([]byte, 1))
				if ne, ok := err.(net.Error); err != nil && !(ok && ne.Timeout()) {
					break // closed (io.EOF, or a reset)
				}
				if i == 200 {
					t.Fatal("not closed after 200 handshake timeouts of clock time")
				}
			}
			dialTLS(t, r.addr, ccfg).expect("PONG", "PING")
		})
	}
}

// TestTLSDrain: a pipelined batch over TLS in flight when the drain starts
// gets all its replies.
func TestTLSDrain(t *testing.T) {
	forEngine(t, func(t *testing.T, e engine) {
		scfg, ccfg := tlsConfigs(t)
		r := e.start(t, config{tls: scfg})
		c := dialTLS(t, r.addr, ccfg)
		c.expect("PONG", "PING")
		var batch []byte
		for range 500 {
			batch = append(batch, encode("INCR", "c")...)
		}
		c.send(batch)
		time.Sleep(20 * time.Millisecond) // let the records reach the server's socket
		r.drain(10 * time.Second)
		br := bufio.NewReader(c.c)
		c.br = br
		for i := range 500 {
			if got := c.read(); got != int64(i+1) {
				t.Fatalf("reply %d: %s", i, show(got))
			}
		}
		c.expectClosed(10 * time.Second)
		_ = strconv.Itoa
	})
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
