package smolnet_test

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
)

func TestUDP(t *testing.T) {
	a, err := smolnet.ListenUDP("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := smolnet.ListenUDP("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	// Unconnected: WriteTo and ReadFrom.
	buf := make([]byte, 100)
	for i := range 10 {
		msg := []byte{'d', byte(i)}
		n, err := smol.BlockOn(a.WriteTo(msg, b.LocalAddrPort()))
		if err != nil || n != len(msg) {
			t.Fatalf("WriteTo: %d, %v", n, err)
		}
		r, err := smol.BlockOn(b.ReadFrom(buf))
		if err != nil || !bytes.Equal(buf[:r.N], msg) || r.Addr != a.LocalAddrPort() {
			t.Fatalf("ReadFrom: %q from %v, %v", buf[:r.N], r.Addr, err)
		}
	}

	// Connected: Write and Read.
	c, err := smolnet.DialUDP("udp", b.LocalAddrPort().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr().String() != b.LocalAddrPort().String() {
		t.Errorf("RemoteAddr = %v", c.RemoteAddr())
	}
	if _, err := smol.BlockOn(c.Write([]byte("hello"))); err != nil {
		t.Fatal(err)
	}
	r, err := smol.BlockOn(b.ReadFrom(buf))
	if err != nil || string(buf[:r.N]) != "hello" || r.Addr != c.LocalAddrPort() {
		t.Fatalf("got %q from %v, %v", buf[:r.N], r.Addr, err)
	}
	if _, err := smol.BlockOn(b.WriteTo([]byte("back"), r.Addr)); err != nil {
		t.Fatal(err)
	}
	n, err := smol.BlockOn(c.Read(buf))
	if err != nil || string(buf[:n]) != "back" {
		t.Fatalf("connected read: %q, %v", buf[:n], err)
	}
}

// TestUDPRefused: a connected UDP socket whose peer has no listener gets
// ECONNREFUSED (from the ICMP error) on a later operation.
func TestUDPRefused(t *testing.T) {
	dead, err := smolnet.ListenUDP("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.LocalAddrPort().String()
	dead.Close()
	c, err := smolnet.DialUDP("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	smol.BlockOn(c.Write([]byte("anyone?")))
	_, err = smol.BlockOn(c.Read(make([]byte, 10)))
	wantOpError(t, err, "read", syscall.ECONNREFUSED)
}

func TestUDPErrors(t *testing.T) {
	_, err := smolnet.ListenUDP("tcp", "127.0.0.1:0")
	wantOpError(t, err, "listen", nil)
	_, err = smolnet.DialUDP("udp", "127.0.0.1")
	wantOpError(t, err, "dial", nil)

	c, err := smolnet.ListenUDP("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = smol.BlockOn(c.WriteTo([]byte("x"), netip.MustParseAddrPort("[::1]:9")))
	wantOpError(t, err, "write", nil)
	c.Close()
	_, err = smol.BlockOn(c.ReadFrom(make([]byte, 1)))
	wantOpError(t, err, "read", net.ErrClosed)
	wantOpError(t, c.Close(), "close", net.ErrClosed)
	if _, err := smol.BlockOn(c.WriteTo([]byte("x"), netip.MustParseAddrPort("127.0.0.1:9"))); !errors.Is(err, net.ErrClosed) {
		t.Error("WriteTo on a closed socket does not match net.ErrClosed")
	}
}

// TestUDPDualStack: a "udp" socket bound to every address receives IPv4
// datagrams, and answers them.
func TestUDPDualStack(t *testing.T) {
	s, err := smolnet.ListenUDP("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := smolnet.DialUDP("udp4", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), s.LocalAddrPort().Port()).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	smol.BlockOn(c.Write([]byte("v4")))
	buf := make([]byte, 10)
	r, err := smol.BlockOn(s.ReadFrom(buf))
	if err != nil || !r.Addr.Addr().Is4() {
		t.Fatalf("ReadFrom: %v from %v", err, r.Addr)
	}
	if _, err := smol.BlockOn(s.WriteTo([]byte("ok"), r.Addr)); err != nil {
		t.Fatal(err)
	}
	if n, err := smol.BlockOn(c.Read(buf)); err != nil || string(buf[:n]) != "ok" {
		t.Fatalf("reply: %q, %v", buf[:n], err)
	}
}
