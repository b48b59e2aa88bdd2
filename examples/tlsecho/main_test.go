package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smolgo/smol/examples/smoltls"
	"github.com/smolgo/smol/smolnet"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/smolgo/smol.(*reactor).fallback"),
		goleak.IgnoreAnyFunction("github.com/smolgo/smol.(*BlockingPool).work"),
	)
}

// start runs the echo server of the given mode with a fresh self-signed
// certificate, and returns its address and a client configuration that
// trusts the certificate.
func start(t *testing.T, mode string) (string, *tls.Config) {
	t.Helper()
	cert, err := smoltls.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	done := make(chan error, 1)
	var addr string
	var closeLn func()
	switch mode {
	case "smol":
		ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr, closeLn = ln.Addr().String(), func() { ln.Close() }
		go func() { done <- Serve(ln, cfg) }()
	case "net":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr, closeLn = ln.Addr().String(), func() { ln.Close() }
		go func() { done <- ServeNet(ln, cfg) }()
	}
	t.Cleanup(func() {
		closeLn()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("server did not return after its listener closed")
		}
	})
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
}

// TestEcho checks the smol TLS echo server, and the net one beside it,
// with Go's tls.Client: small messages, a 4 MiB burst written while it is
// echoed (back-pressure through the encrypted output), and several
// connections at once.
func TestEcho(t *testing.T) {
	for _, mode := range []string{"smol", "net"} {
		t.Run(mode, func(t *testing.T) {
			addr, ccfg := start(t, mode)
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := tls.Dial("tcp", addr, ccfg)
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(30 * time.Second))
					for j := range 20 {
						msg := []byte(strings.Repeat("x", 1+j*i))
						if _, err := c.Write(msg); err != nil {
							t.Error(err)
							return
						}
						got := make([]byte, len(msg))
						if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
							t.Errorf("echo %d: %v", j, err)
							return
						}
					}
					if i != 0 {
						return
					}
					big := make([]byte, 4<<20)
					rand.Read(big)
					go c.Write(big)
					got := make([]byte, len(big))
					if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, big) {
						t.Errorf("4 MiB echo: %v", err)
					}
				}()
			}
			wg.Wait()
			if c, err := tls.Dial("tcp", addr, ccfg); err != nil {
				t.Error(err)
			} else {
				if st := c.ConnectionState(); st.Version != tls.VersionTLS13 {
					t.Errorf("TLS version %x, want 1.3", st.Version)
				}
				c.Close()
			}
		})
	}
}

// TestOpenSSL talks to the smol server with openssl s_client, if present.
func TestOpenSSL(t *testing.T) {
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed (apt-get install -y openssl); TestEcho checked the server with Go's tls.Client")
	}
	addr, _ := start(t, "smol")
	cmd := exec.Command(path, "s_client", "-connect", addr, "-quiet")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
	}()
	io.WriteString(stdin, "hello from openssl\n")
	select {
	case line := <-lines:
		if line != "hello from openssl\n" {
			t.Errorf("openssl s_client got %q", line)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no echo through openssl s_client in 20 s")
	}
	stdin.Close()
}

// TestIdleConnectionsHoldNoGoroutine opens 100 TLS connections to the smol
// server in this process: once their handshakes are done, the process has
// no more goroutines than before (the handshakes' coroutines have ended).
// The net server holds one per connection.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	for _, mode := range []string{"smol", "net"} {
		t.Run(mode, func(t *testing.T) {
			addr, ccfg := start(t, mode)
			before := runtime.NumGoroutine()
			var conns []*tls.Conn
			for range 100 {
				c, err := tls.Dial("tcp", addr, ccfg)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.Write([]byte("x"))
				io.ReadFull(c, make([]byte, 1))
				conns = append(conns, c)
			}
			// A handshake's coroutine returns just after the client's last
			// handshake message; give the executor a moment.
			var after int
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				after = runtime.NumGoroutine()
				if mode == "net" || after-before < 5 || time.Now().After(deadline) {
					break
				}
			}
			t.Logf("%s: %d goroutines more with 100 idle TLS connections", mode, after-before)
			switch {
			case mode == "smol" && after-before >= 5:
				t.Errorf("smol: %d goroutines more with 100 idle TLS connections", after-before)
			case mode == "net" && after-before < 90:
				t.Errorf("net: only %d goroutines more with 100 idle TLS connections", after-before)
			}
		})
	}
}
