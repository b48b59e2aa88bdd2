package smolnet_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
)

func TestUnixStreamEcho(t *testing.T) {
	path := filepath.Join(t.TempDir(), "echo.sock")
	ln, err := smolnet.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	ex := startExecutor(t)
	serveEcho[*smolnet.UnixConn](t, ex, ln)
	if ln.Addr().String() != path {
		t.Errorf("Addr = %v", ln.Addr())
	}

	// Half-close through a Unix socket: 4 MiB sent, echoed after EOF.
	c, err := smol.BlockOn(smolnet.DialUnix(path))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoHalfClose(t, c, 4<<20, 2)

	// Close removes the socket file.
	ln.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file still there after Close: %v", err)
	}
}

func TestUnixErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := smol.BlockOn(smolnet.DialUnix(filepath.Join(dir, "missing.sock")))
	wantOpError(t, err, "dial", syscall.ENOENT)

	path := filepath.Join(dir, "busy.sock")
	ln, err := smolnet.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = smolnet.ListenUnix(path)
	wantOpError(t, err, "listen", syscall.EADDRINUSE)

	d, err := smol.BlockOn(smolnet.DialUnix(path))
	if err != nil {
		t.Fatal(err)
	}
	a, err := smol.BlockOn(ln.Accept())
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	d.Close()
	_, err = smol.BlockOn(d.Read(make([]byte, 1)))
	wantOpError(t, err, "read", net.ErrClosed)
}

func TestUnixgram(t *testing.T) {
	dir := t.TempDir()
	pa, pb := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	a, err := smolnet.ListenUnixgram(pa)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := smolnet.ListenUnixgram(pb)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	buf := make([]byte, 64)
	for i := range 5 {
		msg := []byte{'u', byte(i)}
		if n, err := smol.BlockOn(a.WriteTo(msg, pb)); err != nil || n != 2 {
			t.Fatalf("WriteTo: %d, %v", n, err)
		}
		r, err := smol.BlockOn(b.ReadFrom(buf))
		if err != nil || !bytes.Equal(buf[:r.N], msg) || r.Addr != pa {
			t.Fatalf("ReadFrom: %q from %q, %v", buf[:r.N], r.Addr, err)
		}
	}
	_, err = smol.BlockOn(a.WriteTo([]byte("x"), filepath.Join(dir, "nobody")))
	wantOpError(t, err, "write", syscall.ENOENT)

	// Back-pressure: a receiver that does not read fills up, and the
	// sender's PollWriteTo becomes pending.
	fw := newFlagWaker()
	cx := smol.NewContext(fw)
	sent := 0
	for {
		_, ok, err := a.PollWriteTo(cx, make([]byte, 1024), pb)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if sent++; sent > 1<<20 {
			t.Fatal("PollWriteTo never pending")
		}
	}
	if _, err := smol.BlockOn(b.ReadFrom(buf)); err != nil {
		t.Fatal(err)
	}
	<-fw.ch // reading a datagram makes room: the sender is woken
}
