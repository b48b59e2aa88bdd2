package smolnet_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
	"golang.org/x/net/nettest"
)

// tcpPipe returns both ends of a loopback connection as blocking net.Conns.
func tcpPipe() (c1, c2 net.Conn, stop func(), err error) {
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, nil, err
	}
	defer ln.Close()
	nl := ln.NetListener()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := nl.Accept()
		ch <- accepted{c, err}
	}()
	c, err := smol.BlockOn(smolnet.Dial("tcp", ln.AddrPort().String()))
	a := <-ch
	if err != nil || a.err != nil {
		if a.c != nil {
			a.c.Close()
		}
		return nil, nil, nil, errors.Join(err, a.err)
	}
	c1, c2 = c.NetConn(), a.c
	return c1, c2, func() { c1.Close(); c2.Close() }, nil
}

// unixPipe is tcpPipe over a Unix-domain socket.
func unixPipe(dir string) nettest.MakePipe {
	n := 0
	return func() (c1, c2 net.Conn, stop func(), err error) {
		n++
		path := filepath.Join(dir, "s"+strings.Repeat("x", n%5)+string(rune('a'+n%26)))
		os.Remove(path)
		ln, err := smolnet.ListenUnix(path)
		if err != nil {
			return nil, nil, nil, err
		}
		defer ln.Close()
		ch := goBlockOn(ln.Accept())
		c, err := smol.BlockOn(smolnet.DialUnix(path))
		a := <-ch
		if err != nil || a.err != nil {
			if a.v != nil {
				a.v.Close()
			}
			return nil, nil, nil, errors.Join(err, a.err)
		}
		c1, c2 = c.NetConn(), a.v.NetConn()
		return c1, c2, func() { c1.Close(); c2.Close() }, nil
	}
}

// TestNetConnConformance runs x/net/nettest's net.Conn conformance suite on
// the blocking adapters, over TCP and over Unix sockets.
func TestNetConnConformance(t *testing.T) {
	t.Run("TCP", func(t *testing.T) { nettest.TestConn(t, tcpPipe) })
	t.Run("Unix", func(t *testing.T) { nettest.TestConn(t, unixPipe(t.TempDir())) })
}

// TestNetHTTP serves a real HTTP request with net/http's Server on the
// listener adapter.
func TestNetHTTP(t *testing.T) {
	ln := listen(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Path", r.URL.Path)
		io.WriteString(w, "hello from smolnet, you sent "+string(body))
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln.NetListener()) }()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, "http://"+ln.AddrPort().String()+"/x", strings.NewReader("ping"))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := "hello from smolnet, you sent ping"
		if resp.StatusCode != 200 || string(body) != want || resp.Header.Get("X-Path") != "/x" {
			t.Errorf("%s: %d %q, header %q", method, resp.StatusCode, body, resp.Header.Get("X-Path"))
		}
	}
	// Keep-alive connections too, then shut down.
	ka := &http.Client{Transport: &http.Transport{}}
	for range 3 {
		resp, err := ka.Get("http://" + ln.AddrPort().String() + "/ka")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	ka.CloseIdleConnections()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != http.ErrServerClosed {
		t.Fatalf("Serve returned %v, want http.ErrServerClosed", err)
	}
}

// TestNetHTTPUnix serves HTTP over a Unix socket (the peer is unnamed,
// which the server must cope with).
func TestNetHTTPUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "http.sock")
	ln, err := smolnet.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "unix ok")
	})}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln.NetListener()) }()
	client := &http.Client{Transport: &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
	resp, err := client.Get("http://unix/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "unix ok" {
		t.Errorf("body %q", body)
	}
	srv.Close()
	if err := <-served; err != http.ErrServerClosed {
		t.Fatalf("Serve returned %v", err)
	}
}

// TestTLS runs crypto/tls's server side on the adapter.
func TestTLS(t *testing.T) {
	cert := selfSigned(t)
	ln := listen(t)
	nl := ln.NetListener()
	done := make(chan error, 1)
	go func() {
		c, err := nl.Accept()
		if err != nil {
			done <- err
			return
		}
		tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
		defer tc.Close()
		// Echo lines until EOF, through bufio.
		r := bufio.NewReader(tc)
		for {
			line, err := r.ReadString('\n')
			if err == io.EOF {
				done <- nil
				return
			}
			if err != nil {
				done <- err
				return
			}
			if _, err := io.WriteString(tc, strings.ToUpper(line)); err != nil {
				done <- err
				return
			}
		}
	}()
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	c, err := tls.Dial("tcp", ln.AddrPort().String(), &tls.Config{RootCAs: pool, ServerName: "smolnet.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for _, s := range []string{"hello\n", "tls over smolnet\n"} {
		io.WriteString(c, s)
		got, err := br.ReadString('\n')
		if err != nil || got != strings.ToUpper(s) {
			t.Fatalf("got %q, %v", got, err)
		}
	}
	c.CloseWrite()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t *testing.T) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		DNSNames:     []string{"smolnet.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// TestDeadlineChangedWhileBlocked: a Read blocked with no deadline is
// released by a deadline set from another goroutine; one blocked with a
// far deadline is released when the deadline is moved into the past; and a
// deadline moved later keeps the Read waiting.
func TestDeadlineChangedWhileBlocked(t *testing.T) {
	c1, c2, stop, err := tcpPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	for _, first := range []time.Time{{}, time.Now().Add(time.Hour)} {
		c1.SetReadDeadline(first)
		errc := make(chan error, 1)
		go func() {
			_, err := c1.Read(make([]byte, 1))
			errc <- err
		}()
		time.Sleep(20 * time.Millisecond)
		c1.SetReadDeadline(time.Now().Add(-time.Second))
		err := <-errc
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("blocked read after deadline moved: %v, want a timeout", err)
		}
		wantOpError(t, err, "read", os.ErrDeadlineExceeded)
	}

	// Moved later: the read must see the data written after the first
	// deadline would have passed.
	c1.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	got := make(chan error, 1)
	go func() {
		_, err := c1.Read(make([]byte, 1))
		got <- err
	}()
	c1.SetReadDeadline(time.Now().Add(time.Hour))
	time.Sleep(60 * time.Millisecond)
	c2.Write([]byte("x"))
	if err := <-got; err != nil {
		t.Fatalf("read with a deadline moved later: %v", err)
	}

	// Close releases a blocked Write (the peer does not read).
	c1.SetDeadline(time.Time{})
	werr := make(chan error, 1)
	go func() {
		big := make([]byte, 64<<20)
		_, err := c1.Write(big)
		werr <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c1.Close()
	if err := <-werr; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("blocked write after Close: %v, want net.ErrClosed", err)
	}
}

// TestNetListenerClose: Close releases a blocked Accept.
func TestNetListenerClose(t *testing.T) {
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nl := ln.NetListener()
	errc := make(chan error, 1)
	go func() {
		_, err := nl.Accept()
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	nl.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
	wantOpError(t, func() error { _, err := nl.Accept(); return err }(), "accept", net.ErrClosed)
}
