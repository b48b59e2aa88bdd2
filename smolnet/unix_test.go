package smolnet_test

import (
	"bytes"
	"math/rand/v2"
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
	r := smol.BlockOn(smolnet.DialUnix(path))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	c := r.Value
	defer c.Close()
	want := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{2}).Read(want)
	wex := startExecutor(t)
	wrote := smol.SpawnOn[error](wex, smol.Then(c.WriteAll(want), func(err error) smol.Future[error] {
		if err == nil {
			err = c.CloseWrite()
		}
		return smol.Ready(err)
	}))
	got, err := readAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := smol.BlockOn[error](wrote); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("echo differs: %d bytes, want %d", len(got), len(want))
	}

	// Close removes the socket file.
	ln.Close()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file still there after Close: %v", err)
	}
}

func TestUnixErrors(t *testing.T) {
	dir := t.TempDir()
	r := smol.BlockOn(smolnet.DialUnix(filepath.Join(dir, "missing.sock")))
	wantOpError(t, r.Err, "dial", syscall.ENOENT)

	path := filepath.Join(dir, "busy.sock")
	ln, err := smolnet.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = smolnet.ListenUnix(path)
	wantOpError(t, err, "listen", syscall.EADDRINUSE)

	d := smol.BlockOn(smolnet.DialUnix(path))
	if d.Err != nil {
		t.Fatal(d.Err)
	}
	a := smol.BlockOn(ln.Accept())
	if a.Err != nil {
		t.Fatal(a.Err)
	}
	a.Value.Close()
	d.Value.Close()
	wantOpError(t, smol.BlockOn(d.Value.Read(make([]byte, 1))).Err, "read", net.ErrClosed)
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
		if w := smol.BlockOn(a.WriteTo(msg, pb)); w.Err != nil || w.Value != 2 {
			t.Fatalf("WriteTo: %v", w.Err)
		}
		r := smol.BlockOn(b.ReadFrom(buf))
		if r.Err != nil || !bytes.Equal(buf[:r.Value.N], msg) || r.Value.Addr != pa {
			t.Fatalf("ReadFrom: %q from %q, %v", buf[:r.Value.N], r.Value.Addr, r.Err)
		}
	}
	w := smol.BlockOn(a.WriteTo([]byte("x"), filepath.Join(dir, "nobody")))
	wantOpError(t, w.Err, "write", syscall.ENOENT)

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
	r := smol.BlockOn(b.ReadFrom(buf))
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	<-fw.ch // reading a datagram makes room: the sender is woken
}
