//go:build linux

package smolnet_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
)

const (
	emfileClients = 12
	emfileRoom    = 3 // descriptors the child leaves free for connections
)

// TestAcceptEMFILE runs an echo server in a child process whose open-file
// limit leaves room for only a few connections, and connects more clients
// than that. The server must back off when accept fails with EMFILE
// (doubling delays, no spinning), keep serving the connections it has, and
// accept every queued client, in order, as descriptors are freed.
func TestAcceptEMFILE(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), emfileChildEnv+"=1")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()

	// The child reports on stdout, one event a line.
	type event struct {
		kind  string
		arg   string
		delay time.Duration
	}
	events := make(chan event, 1000)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 0 {
				continue
			}
			ev := event{kind: f[0]}
			if len(f) > 1 {
				ev.arg = f[1]
			}
			if ev.kind == "backoff" && len(f) > 2 {
				ev.delay, _ = time.ParseDuration(f[2])
			}
			events <- ev
		}
	}()
	accepted, backoffs := 0, 0
	var delays []time.Duration
	next := func(kind string) event {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatalf("child exited early; stderr:\n%s", stderr.String())
				}
				switch ev.kind {
				case "accepted":
					accepted++
				case "backoff":
					backoffs++
					delays = append(delays, ev.delay)
					if ev.arg != "EMFILE" && ev.arg != "ENFILE" {
						t.Errorf("backoff on %s, want EMFILE", ev.arg)
					}
				case "error":
					t.Fatalf("child: %s; stderr:\n%s", ev.arg, stderr.String())
				}
				if ev.kind == kind {
					return ev
				}
			case <-timeout:
				t.Fatalf("no %q event from the child in 60s (accepted %d, backoffs %d); stderr:\n%s", kind, accepted, backoffs, stderr.String())
			}
		}
	}
	port := next("port").arg

	// Connect all clients; the kernel completes the handshakes and queues
	// them whether or not the server accepts.
	clients := make([]net.Conn, emfileClients)
	for i := range clients {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[i] = c
	}
	echo := func(i int) {
		t.Helper()
		c := clients[i]
		c.SetDeadline(time.Now().Add(30 * time.Second))
		msg := fmt.Appendf(nil, "client %d at %v", i, time.Now().UnixNano())
		if _, err := c.Write(msg); err != nil {
			t.Fatalf("client %d write: %v", i, err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("client %d read: %v (server accepted %d)", i, err, accepted)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("client %d: echo %q, want %q", i, got, msg)
		}
	}

	// The server fills its descriptors and starts backing off.
	next("backoff")
	served := accepted
	if served < 1 || served >= emfileClients {
		t.Fatalf("accepted %d clients before EMFILE, want between 1 and %d", served, emfileClients-1)
	}
	t.Logf("child accepted %d clients, then hit EMFILE", served)

	// While it backs off, it keeps serving the connections it has; keep
	// them busy until the back-off has grown to its cap.
	for delays[len(delays)-1] < 100*time.Millisecond {
		for i := range served {
			echo(i)
		}
		next("backoff")
	}

	// Serve and close the clients in order: each close frees a descriptor,
	// and the next queued client must be accepted and served.
	for i := range clients {
		echo(i)
		clients[i].Close()
	}
	next("done")
	if accepted != emfileClients {
		t.Errorf("child accepted %d clients, want %d", accepted, emfileClients)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("child: %v; stderr:\n%s", err, stderr.String())
	}

	// No spinning: after a failure the delay doubles (up to the cap), and
	// it starts again at 1 ms only after an accept went through.
	for i, d := range delays {
		if d < time.Millisecond || d > 100*time.Millisecond {
			t.Errorf("backoff %d: delay %v outside [1ms, 100ms]", i, d)
		}
		if i > 0 && d != time.Millisecond && d != min(2*delays[i-1], 100*time.Millisecond) {
			t.Errorf("backoff %d: delay %v after %v, want it doubled", i, d, delays[i-1])
		}
	}
	t.Logf("%d back-offs in all, delays %v", backoffs, delays)
}

// emfileChild is the server process of TestAcceptEMFILE.
func emfileChild() int {
	fail := func(err error) int {
		fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), " ", "_"))
		return 1
	}
	ln, err := (&smolnet.ListenConfig{OnAcceptBackoff: func(err error, d time.Duration) {
		name := "other"
		switch {
		case errors.Is(err, syscall.EMFILE):
			name = "EMFILE"
		case errors.Is(err, syscall.ENFILE):
			name = "ENFILE"
		}
		fmt.Printf("backoff %s %v\n", name, d)
	}}).Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	ex := smol.NewLocalExecutor()
	srv := &childServer{ex: ex, ln: ln, buf: make([]byte, 4096), total: emfileClients}
	smol.SpawnOn(ex, smol.Ready(struct{}{})) // warm up the executor

	// Leave room for only a few more descriptors: the limit is set just
	// above the emfileRoom-th free descriptor number. (Inherited
	// descriptors may sit above it; they stay usable.)
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fail(err)
	}
	inUse := map[int]bool{}
	for _, e := range ents {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			inUse[n] = true
		}
	}
	n, free := 0, 0
	for ; free < emfileRoom; n++ {
		if !inUse[n] {
			free++
		}
	}
	lim := syscall.Rlimit{Cur: uint64(n), Max: uint64(n)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fail(err)
	}
	fmt.Printf("limit %d %d\n", lim.Cur, len(ents))
	fmt.Printf("port %d\n", ln.AddrPort().Port())

	if _, err := smol.Run(ex, srv); err != nil {
		return fail(err)
	}
	ln.Close()
	fmt.Println("done")
	return 0
}

// childServer accepts and echoes until it has accepted total clients and
// all of them have closed.
type childServer struct {
	ex       *smol.LocalExecutor
	ln       *smolnet.TCPListener
	buf      []byte
	total    int
	accepted int
	open     int
	self     smol.Waker
}

func (s *childServer) Poll(cx *smol.Context) (struct{}, bool, error) {
	s.self = cx.Waker()
	for s.accepted < s.total {
		c, ok, err := s.ln.PollAccept(cx)
		if !ok {
			break
		}
		if err != nil {
			fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), " ", "_"))
			return struct{}{}, true, nil
		}
		s.accepted++
		s.open++
		fmt.Printf("accepted %d\n", s.accepted)
		smol.SpawnOn(s.ex, &echoConn{c: &countedConn{c, s}, srv: s}).Detach()
	}
	return struct{}{}, s.accepted == s.total && s.open == 0, nil
}

func (s *childServer) noteErr(err error) {
	fmt.Printf("error %s\n", strings.ReplaceAll(err.Error(), " ", "_"))
}

func (s *childServer) shared() []byte { return s.buf }

// countedConn tells the server when a connection is closed.
type countedConn struct {
	*smolnet.TCPConn
	s *childServer
}

func (c *countedConn) Close() error {
	err := c.TCPConn.Close()
	c.s.open--
	c.s.self.Wake()
	return err
}

// lockedBuffer is a bytes.Buffer safe to write from os/exec's copying
// goroutine while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
