package smoltls_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/coro"
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

// echoTask echoes one TLS connection with the poll methods.
type echoTask struct {
	c   *smoltls.Conn
	hs  *smol.Task[struct{}]
	buf []byte
	got int
}

func (e *echoTask) Poll(cx *smol.Context) (int, bool, error) {
	if e.hs != nil {
		if _, ok, err := e.hs.Poll(cx); !ok {
			return 0, false, nil
		} else if err != nil {
			e.c.Close()
			return 0, true, err
		}
		e.hs = nil
	}
	for {
		n, ok, err := e.c.PollRead(cx, e.buf)
		if !ok {
			return 0, false, nil
		}
		if err != nil {
			e.c.Close()
			if err == io.EOF {
				err = nil
			}
			return e.got, true, err
		}
		e.got += n
		if _, ok, err := e.c.PollWrite(cx, e.buf[:n]); ok && err != nil {
			return e.got, true, err
		}
	}
}

// TestRecordsInPieces sends TLS records one byte per TCP segment: crypto/tls
// is told "would block" in the middle of every record and of the
// handshake's messages, keeps what it has, and decrypts once the rest
// comes. The connection then ends with the client's close_notify, which
// PollRead reports as io.EOF.
func TestRecordsInPieces(t *testing.T) {
	cert, err := smoltls.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	sc := smoltls.NewScratch()
	server := coro.Spawn(ex, func(co *coro.Co) (int, error) {
		raw, err := coro.Accept(co, ln)
		if err != nil {
			return 0, err
		}
		e := &echoTask{c: smoltls.Server(raw, &tls.Config{Certificates: []tls.Certificate{cert}}, sc), buf: make([]byte, 64<<10)}
		e.hs = coro.Spawn(ex, func(co *coro.Co) (struct{}, error) { return struct{}{}, e.c.Handshake(co, 20*time.Second) })
		return coro.Await[int](co, smol.SpawnOn(ex, e))
	})
	done := make(chan error, 1)
	go func() {
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			done <- err
			return
		}
		c := tls.Client(&trickle{Conn: raw}, &tls.Config{InsecureSkipVerify: true})
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		msg := bytes.Repeat([]byte("0123456789"), 300)
		if _, err := c.Write(msg); err != nil {
			done <- err
			return
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			done <- err
			return
		}
		done <- c.CloseWrite()
	}()
	n, err := smol.Run(ex, server)
	if err != nil || n != 3000 {
		t.Fatalf("server: %d bytes, %v", n, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("client: %v", err)
	}
}

// trickle writes one byte at a time, pausing, so that each byte is its
// own TCP segment.
type trickle struct{ net.Conn }

func (t *trickle) Write(p []byte) (int, error) {
	for i := range p {
		if _, err := t.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
		if i%64 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	return len(p), nil
}
