package smolnet_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
)

// upper is a connection handler written as a future: it reads a request
// into its buffer and writes it back in upper case, until EOF.
type upper struct {
	c    *smolnet.TCPConn
	buf  [512]byte
	out  []byte // still to write
	done bool
}

func (u *upper) Poll(cx *smol.Context) (struct{}, bool, error) {
	for {
		// Write what is pending first.
		for len(u.out) > 0 {
			n, ok, err := u.c.PollWrite(cx, u.out)
			if !ok {
				return struct{}{}, false, nil
			}
			if err != nil {
				u.c.Close()
				return struct{}{}, true, nil
			}
			u.out = u.out[n:]
		}
		if u.done {
			u.c.Close()
			return struct{}{}, true, nil
		}
		// Then read more.
		n, ok, err := u.c.PollRead(cx, u.buf[:])
		if !ok {
			return struct{}{}, false, nil
		}
		if err != nil { // io.EOF after the client's CloseWrite, or a real error
			u.done = true
			continue
		}
		u.out = []byte(strings.ToUpper(string(u.buf[:n])))
	}
}

// A server and a client on one LocalExecutor: the server accepts with
// PollAccept and spawns a state machine per connection; the client uses the
// future methods.
func Example() {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()

	// The server: accept forever, one task per connection.
	smol.SpawnOn(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
		for {
			c, ok, err := ln.PollAccept(cx)
			if !ok {
				return struct{}{}, false, nil
			}
			if err != nil {
				return struct{}{}, true, nil
			}
			smol.SpawnOn(ex, &upper{c: c}).Detach()
		}
	})).Detach()

	// The client: dial, write, half-close, read the answer to EOF. Each
	// step runs only if the one before succeeded; the first error fails
	// the whole chain.
	client := smol.Then(smolnet.Dial("tcp", ln.AddrPort().String()), func(c *smolnet.TCPConn) smol.Future[[]byte] {
		return smol.Then(c.WriteAll([]byte("hello, smol")), func(int) smol.Future[[]byte] {
			if err := c.CloseWrite(); err != nil {
				c.Close()
				return smol.Failed[[]byte](err)
			}
			var answer []byte
			buf := make([]byte, 64)
			return smol.PollFn(func(cx *smol.Context) ([]byte, bool, error) {
				for {
					n, ok, err := c.PollRead(cx, buf)
					if !ok {
						return nil, false, nil
					}
					answer = append(answer, buf[:n]...)
					if err == io.EOF {
						c.Close()
						return answer, true, nil
					}
					if err != nil {
						c.Close()
						return nil, true, err
					}
				}
			})
		})
	})
	answer, err := smol.Run(ex, client)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n", answer)
	// Output: HELLO, SMOL
}

// A server that asks for io_uring where the kernel has it: on Linux with
// io_uring available, the listener and its connections run on a ring of
// the executor (multishot accept and receive, sends as requests);
// anywhere else they run on the reactor, with the same code and no error.
func ExampleListenConfig_iouring() {
	lc := smolnet.ListenConfig{IOURing: true}
	ln, err := lc.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()

	// The server: one goroutine drives the executor for its whole life
	// (a ring binds it to its thread), accepting and spawning a task per
	// connection, until the executor is closed.
	ex := smol.NewLocalExecutor()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		smol.Run(ex, smol.PollFn(func(cx *smol.Context) (struct{}, bool, error) {
			for {
				c, ok, err := ln.PollAccept(cx)
				if !ok || err != nil {
					return struct{}{}, ok, err
				}
				smol.SpawnOn(ex, &upper{c: c}).Detach()
			}
		}))
	}()
	defer func() { ex.Close(); <-stopped }()

	// A client on Go's net package.
	c, err := net.Dial("tcp", ln.AddrPort().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	c.Write([]byte("hello, ring"))
	c.(*net.TCPConn).CloseWrite()
	answer, err := io.ReadAll(c)
	fmt.Printf("%s %v\n", answer, err)
	// Output: HELLO, RING <nil>
}

// Dial errors are *net.OpError values that errors.Is sees through.
func ExampleDial() {
	ln, _ := smolnet.Listen("tcp", "127.0.0.1:0")
	addr := ln.AddrPort().String()
	ln.Close() // nobody listens there any more

	_, err := smol.BlockOn(smolnet.Dial("tcp", addr))
	var oe *net.OpError
	fmt.Println(errors.As(err, &oe), oe.Op, errors.Is(err, syscall.ECONNREFUSED))
	// Output: true dial true
}

// A timeout composes with any future: here a read that would wait forever
// fails with smol.ErrTimeout, which matches os.ErrDeadlineExceeded.
func ExampleTCPConn_Read() {
	ln, _ := smolnet.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	c, _ := smol.BlockOn(smolnet.Dial("tcp", ln.AddrPort().String()))
	defer c.Close()

	_, err := smol.BlockOn(smol.Timeout(c.Read(make([]byte, 10)), 20*time.Millisecond))
	fmt.Println(err == smol.ErrTimeout, errors.Is(err, os.ErrDeadlineExceeded))
	// Output: true true
}

// Goroutine code runs on the blocking adapters: here bufio on a NetConn.
func ExampleTCPConn_NetConn() {
	ln, _ := smolnet.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s, err := smol.BlockOn(ln.Accept())
		if err != nil {
			return
		}
		conn := s.NetConn()
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		line, _ := bufio.NewReader(conn).ReadString('\n')
		fmt.Fprintf(conn, "you said %s", line)
	}()

	c, err := smol.BlockOn(smolnet.Dial("tcp", ln.AddrPort().String()))
	if err != nil {
		fmt.Println(err)
		return
	}
	conn := c.NetConn()
	defer conn.Close()
	fmt.Fprintln(conn, "hi")
	reply, _ := bufio.NewReader(conn).ReadString('\n')
	fmt.Print(reply)
	<-done
	// Output: you said hi
}

// net/http's server runs on the listener adapter.
func ExampleTCPListener_NetListener() {
	ln, _ := smolnet.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from %s", r.URL.Path)
	})}
	go srv.Serve(ln.NetListener())
	defer srv.Close()

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + ln.AddrPort().String() + "/smol")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Status, string(body))
	// Output: 200 OK hello from /smol
}

func ExampleListenUDP() {
	a, _ := smolnet.ListenUDP("udp", "127.0.0.1:0")
	defer a.Close()
	b, _ := smolnet.ListenUDP("udp", "127.0.0.1:0")
	defer b.Close()

	smol.BlockOn(a.WriteTo([]byte("ping"), b.LocalAddrPort()))
	buf := make([]byte, 16)
	r, _ := smol.BlockOn(b.ReadFrom(buf))
	fmt.Println(string(buf[:r.N]), r.Addr == a.LocalAddrPort())
	// Output: ping true
}

func ExampleListenUnix() {
	dir, _ := os.MkdirTemp("", "smolnet")
	defer os.RemoveAll(dir)
	ln, _ := smolnet.ListenUnix(filepath.Join(dir, "sock"))
	defer ln.Close()

	accepted := make(chan *smolnet.UnixConn, 1)
	go func() {
		s, _ := smol.BlockOn(ln.Accept())
		accepted <- s
	}()
	c, _ := smol.BlockOn(smolnet.DialUnix(filepath.Join(dir, "sock")))
	defer c.Close()
	s := <-accepted
	defer s.Close()

	smol.BlockOn(c.WriteAll([]byte("over a unix socket")))
	buf := make([]byte, 64)
	n, _ := smol.BlockOn(s.Read(buf))
	fmt.Println(string(buf[:n]))
	// Output: over a unix socket
}

// IP literals resolve inline; host names go to the blocking pool.
func ExampleResolve() {
	ips, err := smol.BlockOn(smolnet.Resolve("::ffff:192.0.2.1"))
	fmt.Println(ips, err)
	// Output: [192.0.2.1] <nil>
}
