package smolnet

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/blocking"
	"golang.org/x/sys/unix"
)

// Dialer holds the options for connecting. The zero value connects with no
// time limit other than the kernel's and with keep-alive on.
type Dialer struct {
	// Timeout bounds the whole dial, name resolution included; zero means
	// no bound. The time is counted from the call to Dial.
	Timeout time.Duration

	// KeepAlive is the keep-alive period of the connection: zero means 15
	// seconds, as in Go's net; negative disables keep-alive.
	KeepAlive time.Duration
}

// Dial returns a future that connects to address on network "tcp", "tcp4"
// or "tcp6"; see [Dialer.Dial].
func Dial(network, address string) smol.Future[*TCPConn] {
	var d Dialer
	return d.Dial(network, address)
}

// DialTimeout is [Dial] bounded by timeout.
func DialTimeout(network, address string, timeout time.Duration) smol.Future[*TCPConn] {
	d := Dialer{Timeout: timeout}
	return d.Dial(network, address)
}

// Dial returns a future that connects to address ("host:port") on network
// "tcp", "tcp4" or "tcp6". An IP literal is parsed inline; a host name is
// resolved on the blocking pool (see [Resolve]) and its addresses are tried
// in turn until one accepts. An empty host means the local system. The
// connect itself is non-blocking: the future waits for the socket to become
// writable, then reads the outcome from SO_ERROR.
//
// The future is ready with a connection that has TCP_NODELAY set, or with
// a *net.OpError (Op "dial") holding the first address's error: an
// *os.SyscallError such as ECONNREFUSED, a *net.DNSError, a *net.AddrError,
// or os.ErrDeadlineExceeded once the timeout passes. A dial future dropped
// before it is ready closes its socket when it is garbage collected.
func (d *Dialer) Dial(network, address string) smol.Future[*TCPConn] {
	f := &dialFuture{network: network, address: address, keepAlive: d.KeepAlive, guard: new(dialGuard)}
	if d.Timeout > 0 {
		f.timer = smol.After(d.Timeout)
	}
	// Parse what can be parsed now; look names up later, off the executor.
	spec, err := parseAddr(network, "tcp", address)
	if err != nil {
		return f.fail(err)
	}
	switch t, done, err := spec.quick(false); {
	case err != nil:
		return f.fail(err)
	case done:
		f.addrs, f.port = t.addrs, t.port
	default:
		f.resolve = blocking.Unblock(func() (target, error) { return spec.resolve(false) })
	}
	// If the future is dropped mid-connect, its socket is closed when the
	// future is collected.
	runtime.AddCleanup(f, (*dialGuard).abandon, f.guard)
	return f
}

// dialFuture connects to each address in turn. Its states:
//
//	resolve != nil      waiting for the blocking pool to resolve the address
//	fd == nil           about to start connecting to addrs[next]
//	fd != nil           connecting: waiting for the socket to be writable
//	done                ready was returned (or an early error is stored)
//
// A timer, when there is a timeout, is polled whenever the dial is
// pending.
type dialFuture struct {
	network   string
	address   string
	keepAlive time.Duration
	resolve   smol.Future[target]
	addrs     []netip.Addr
	port      uint16
	next      int
	fd        *smol.FD       // socket being connected
	raddr     netip.AddrPort // its target
	firstErr  error
	timer     *smol.Timer
	early     error // an error found before the first poll
	guard     *dialGuard
	done      bool
}

// dialGuard holds the socket being connected, so that a cleanup can close
// it if the future is dropped. It is separate from the future because a
// cleanup's argument must not keep its object alive.
type dialGuard struct{ fd atomic.Pointer[smol.FD] }

func (g *dialGuard) abandon() {
	if fd := g.fd.Swap(nil); fd != nil {
		fd.Close()
	}
}

// fail stores an error found before the first poll: the address cannot be
// used.
func (f *dialFuture) fail(err error) *dialFuture {
	f.early = newOpError("dial", f.network, nil, nil, err)
	return f
}

// Poll advances the dial.
func (f *dialFuture) Poll(cx *smol.Context) (*TCPConn, bool, error) {
	if f.done {
		panic("smolnet: dial future polled after it was ready")
	}
	if f.early != nil {
		return f.finish(nil, f.early)
	}
	// Make progress first, so that a connection made at the deadline wins.
	c, ok, err := f.step(cx)
	if ok {
		return f.finish(c, err)
	}
	if f.timer != nil {
		if _, fired, _ := f.timer.Poll(cx); fired {
			var addr net.Addr
			if f.fd != nil {
				addr = tcpAddr(f.raddr)
			}
			f.closeSocket()
			return f.finish(nil, newOpError("dial", f.network, nil, addr, os.ErrDeadlineExceeded))
		}
	}
	cx.WaitingOn(f, smol.WaitOther)
	return nil, false, nil
}

// String describes the dial for task dumps: "dial tcp example.com:80".
func (f *dialFuture) String() string { return "dial " + f.network + " " + f.address }

func (f *dialFuture) finish(c *TCPConn, err error) (*TCPConn, bool, error) {
	f.done = true
	if f.timer != nil {
		f.timer.Discard()
	}
	return c, true, err
}

// Discard stops the timer and closes a socket being connected.
func (f *dialFuture) Discard() {
	if f.timer != nil {
		f.timer.Discard()
	}
	smol.Discard(f.resolve)
	f.closeSocket()
}

// step runs the state machine until it is pending or done.
func (f *dialFuture) step(cx *smol.Context) (*TCPConn, bool, error) {
	for {
		// Waiting for the resolver.
		if f.resolve != nil {
			t, ok, err := f.resolve.Poll(cx)
			if !ok {
				return nil, false, nil
			}
			f.resolve = nil
			if err != nil {
				return nil, true, newOpError("dial", f.network, nil, nil, err)
			}
			f.addrs, f.port = t.addrs, t.port
		}
		// Start connecting to the next address.
		if f.fd == nil {
			if f.next >= len(f.addrs) {
				return nil, true, f.firstErr
			}
			f.raddr = netip.AddrPortFrom(f.addrs[f.next], f.port)
			f.next++
			connected, err := f.start()
			if err != nil {
				f.failed(err)
				continue
			}
			if connected {
				return f.established()
			}
		}
		// Wait for the outcome of the connect.
		ok, err := pollConnect(cx, f.fd)
		if !ok {
			return nil, false, nil
		}
		if err == nil {
			return f.established()
		}
		f.closeSocket()
		f.failed(err)
	}
}

// start creates a socket and begins connecting it to f.raddr.
func (f *dialFuture) start() (connected bool, err error) {
	family := unix.AF_INET
	if f.raddr.Addr().Is6() {
		family = unix.AF_INET6
	}
	sa, err := addrPortToSockaddr(family, f.raddr)
	if err != nil {
		return false, err
	}
	fd, connected, err := connect(family, sa)
	if err != nil {
		return false, err
	}
	// The descriptor is ours alone until the dial is done.
	f.fd = fd
	f.guard.fd.Store(fd)
	return connected, nil
}

// failed records the error of one address; the first one is reported if
// none succeeds.
func (f *dialFuture) failed(err error) {
	if f.firstErr == nil {
		f.firstErr = newOpError("dial", f.network, nil, tcpAddr(f.raddr), err)
	}
}

func (f *dialFuture) closeSocket() {
	if f.fd != nil {
		f.guard.fd.Store(nil)
		f.fd.Close()
		f.fd = nil
	}
}

// established turns the connected socket into a TCPConn.
func (f *dialFuture) established() (*TCPConn, bool, error) {
	fd := f.fd
	var laddr netip.AddrPort
	err := control(fd, func(s int) error {
		if err := unix.SetsockoptInt(s, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1); err != nil {
			return err
		}
		if err := setKeepAlive(s, f.keepAlive); err != nil {
			return err
		}
		var err error
		laddr, err = localAddrPort(s)
		return err
	})
	if err != nil {
		f.closeSocket()
		return nil, true, newOpError("dial", f.network, nil, tcpAddr(f.raddr), sockErr("setsockopt", err))
	}
	f.guard.fd.Store(nil)
	f.fd = nil
	return newTCPConn(fd, (*tcpEndpoint)(&laddr), f.raddr), true, nil
}
