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
		w := smol.BlockOn(a.WriteTo(msg, b.LocalAddrPort()))
		if w.Err != nil || w.Value != len(msg) {
			t.Fatalf("WriteTo: %d, %v", w.Value, w.Err)
		}
		r := smol.BlockOn(b.ReadFrom(buf))
		if r.Err != nil || !bytes.Equal(buf[:r.Value.N], msg) || r.Value.Addr != a.LocalAddrPort() {
			t.Fatalf("ReadFrom: %q from %v, %v", buf[:r.Value.N], r.Value.Addr, r.Err)
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
	if w := smol.BlockOn(c.Write([]byte("hello"))); w.Err != nil {
		t.Fatal(w.Err)
	}
	r := smol.BlockOn(b.ReadFrom(buf))
	if string(buf[:r.Value.N]) != "hello" || r.Value.Addr != c.LocalAddrPort() {
		t.Fatalf("got %q from %v", buf[:r.Value.N], r.Value.Addr)
	}
	if w := smol.BlockOn(b.WriteTo([]byte("back"), r.Value.Addr)); w.Err != nil {
		t.Fatal(w.Err)
	}
	rr := smol.BlockOn(c.Read(buf))
	if rr.Err != nil || string(buf[:rr.Value]) != "back" {
		t.Fatalf("connected read: %q, %v", buf[:rr.Value], rr.Err)
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
	r := smol.BlockOn(c.Read(make([]byte, 10)))
	wantOpError(t, r.Err, "read", syscall.ECONNREFUSED)
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
	w := smol.BlockOn(c.WriteTo([]byte("x"), netip.MustParseAddrPort("[::1]:9")))
	wantOpError(t, w.Err, "write", nil)
	c.Close()
	r := smol.BlockOn(c.ReadFrom(make([]byte, 1)))
	wantOpError(t, r.Err, "read", net.ErrClosed)
	wantOpError(t, c.Close(), "close", net.ErrClosed)
	if !errors.Is(smol.BlockOn(c.WriteTo([]byte("x"), netip.MustParseAddrPort("127.0.0.1:9"))).Err, net.ErrClosed) {
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
	r := smol.BlockOn(s.ReadFrom(buf))
	if r.Err != nil || !r.Value.Addr.Addr().Is4() {
		t.Fatalf("ReadFrom: %v from %v", r.Err, r.Value.Addr)
	}
	if w := smol.BlockOn(s.WriteTo([]byte("ok"), r.Value.Addr)); w.Err != nil {
		t.Fatal(w.Err)
	}
	if rr := smol.BlockOn(c.Read(buf)); rr.Err != nil || string(buf[:rr.Value]) != "ok" {
		t.Fatalf("reply: %q, %v", buf[:rr.Value], rr.Err)
	}
}
