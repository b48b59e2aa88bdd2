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

func (u *upper) Poll(cx *smol.Context) (struct{}, bool) {
	for {
		// Write what is pending first.
		for len(u.out) > 0 {
			n, ok, err := u.c.PollWrite(cx, u.out)
			if !ok {
				return struct{}{}, false
			}
			if err != nil {
				u.c.Close()
				return struct{}{}, true
			}
			u.out = u.out[n:]
		}
		if u.done {
			u.c.Close()
			return struct{}{}, true
		}
		// Then read more.
		n, ok, err := u.c.PollRead(cx, u.buf[:])
		if !ok {
			return struct{}{}, false
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
	smol.SpawnOn[struct{}](ex, smol.PollFn[struct{}](func(cx *smol.Context) (struct{}, bool) {
		for {
			c, ok, err := ln.PollAccept(cx)
			if !ok {
				return struct{}{}, false
			}
			if err != nil {
				return struct{}{}, true
			}
			smol.SpawnOn[struct{}](ex, &upper{c: c}).Detach()
		}
	})).Detach()

	// The client: dial, write, half-close, read the answer to EOF.
	var answer []byte
	client := smol.Then(smolnet.Dial("tcp", ln.AddrPort().String()), func(r smol.Result[*smolnet.TCPConn]) smol.Future[error] {
		if r.Err != nil {
			return smol.Ready(r.Err)
		}
		c := r.Value
		return smol.Then(c.WriteAll([]byte("hello, smol")), func(err error) smol.Future[error] {
			if err == nil {
				err = c.CloseWrite()
			}
			if err != nil {
				return smol.Ready(err)
			}
			buf := make([]byte, 64)
			return smol.PollFn[error](func(cx *smol.Context) (error, bool) {
				for {
					n, ok, err := c.PollRead(cx, buf)
					if !ok {
						return nil, false
					}
					answer = append(answer, buf[:n]...)
					if err != nil {
						c.Close()
						if err == io.EOF {
							err = nil
						}
						return err, true
					}
				}
			})
		})
	})
	if err, _ := smol.Run(ex, client); err != nil {
		fmt.Println(err)
	}
	fmt.Printf("%s\n", answer)
	// Output: HELLO, SMOL
}

// Dial errors are *net.OpError values that errors.Is sees through.
func ExampleDial() {
	ln, _ := smolnet.Listen("tcp", "127.0.0.1:0")
	addr := ln.AddrPort().String()
	ln.Close() // nobody listens there any more

	r := smol.BlockOn(smolnet.Dial("tcp", addr))
	var oe *net.OpError
	fmt.Println(errors.As(r.Err, &oe), oe.Op, errors.Is(r.Err, syscall.ECONNREFUSED))
	// Output: true dial true
}

// A timeout composes with any future: here a read that would wait forever.
func ExampleTCPConn_Read() {
	ln, _ := smolnet.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	c := smol.BlockOn(smolnet.Dial("tcp", ln.AddrPort().String())).Value
	defer c.Close()

	r := smol.BlockOn(smol.Timeout(c.Read(make([]byte, 10)), 20*time.Millisecond))
	fmt.Println(errors.Is(r.Err, os.ErrDeadlineExceeded))
	// Output: true
}

// Goroutine code runs on the blocking adapters: here bufio on a NetConn.
func ExampleTCPConn_NetConn() {
	ln, _ := smolnet.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		a := smol.BlockOn(ln.Accept())
		if a.Err != nil {
			return
		}
		conn := a.Value.NetConn()
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		line, _ := bufio.NewReader(conn).ReadString('\n')
		fmt.Fprintf(conn, "you said %s", line)
	}()

	c := smol.BlockOn(smolnet.Dial("tcp", ln.AddrPort().String())).Value
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
	r := smol.BlockOn(b.ReadFrom(buf))
	fmt.Println(string(buf[:r.Value.N]), r.Value.Addr == a.LocalAddrPort())
	// Output: ping true
}

func ExampleListenUnix() {
	dir, _ := os.MkdirTemp("", "smolnet")
	defer os.RemoveAll(dir)
	ln, _ := smolnet.ListenUnix(filepath.Join(dir, "sock"))
	defer ln.Close()

	accepted := make(chan *smolnet.UnixConn, 1)
	go func() { accepted <- smol.BlockOn(ln.Accept()).Value }()
	c := smol.BlockOn(smolnet.DialUnix(filepath.Join(dir, "sock"))).Value
	defer c.Close()
	s := <-accepted
	defer s.Close()

	smol.BlockOn(c.WriteAll([]byte("over a unix socket")))
	buf := make([]byte, 64)
	r := smol.BlockOn(s.Read(buf))
	fmt.Println(string(buf[:r.Value]))
	// Output: over a unix socket
}

// IP literals resolve inline; host names go to the blocking pool.
func ExampleResolve() {
	r := smol.BlockOn(smolnet.Resolve("::ffff:192.0.2.1"))
	fmt.Println(r.Value, r.Err)
	// Output: [192.0.2.1] <nil>
}
