package smolnet

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/smolgo/smol"
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
func Dial(network, address string) smol.Future[smol.Result[*TCPConn]] {
	var d Dialer
	return d.Dial(network, address)
}

// DialTimeout is [Dial] bounded by timeout.
func DialTimeout(network, address string, timeout time.Duration) smol.Future[smol.Result[*TCPConn]] {
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
func (d *Dialer) Dial(network, address string) smol.Future[smol.Result[*TCPConn]] {
	f := &dialFuture{network: network, keepAlive: d.KeepAlive, guard: new(dialGuard)}
	if d.Timeout > 0 {
		f.timer = smol.After(d.Timeout)
	}
	// Parse what can be parsed now; resolve host names later, off the
	// executor.
	ver, err := ipNetwork(network, "tcp")
	if err != nil {
		return f.fail(nil, err)
	}
	f.ver = ver
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return f.fail(nil, err)
	}
	port, perr := parsePortNumber(service)
	ip, ierr := netip.ParseAddr(host)
	switch {
	case host == "" && perr == nil:
		ip = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		if ver == 6 {
			ip = netip.IPv6Loopback()
		}
		f.addrs, f.port = []netip.Addr{ip}, port
	case ierr == nil && perr == nil:
		f.addrs, f.port = []netip.Addr{ip.Unmap()}, port
	default:
		f.resolve = smol.Unblock(func() dialTarget {
			return resolveTarget(network, ver, host, service)
		})
	}
	if f.addrs != nil && !matchVersion(f.addrs[0], ver) {
		return f.fail(nil, &net.AddrError{Err: "no suitable address found", Addr: address})
	}
	// If the future is dropped mid-connect, its socket is closed when the
	// future is collected.
	runtime.AddCleanup(f, (*dialGuard).abandon, f.guard)
	return f
}

// parsePortNumber parses a numeric port; names need the services
// database, which is read on the blocking pool.
func parsePortNumber(service string) (uint16, error) {
	n, err := strconv.ParseUint(service, 10, 16)
	return uint16(n), err
}

// dialTarget is the outcome of resolving a dial address.
type dialTarget struct {
	addrs []netip.Addr
	port  uint16
	err   error
}

// resolveTarget looks up the port and the host; it blocks, so it runs on
// the blocking pool.
func resolveTarget(network string, ver byte, host, service string) dialTarget {
	port, err := parsePort(network, service)
	if err != nil {
		return dialTarget{err: err}
	}
	if host == "" {
		host = "localhost"
	}
	ips, err := lookupHost(host)
	if err != nil {
		return dialTarget{err: err}
	}
	var out []netip.Addr
	for _, ip := range ips {
		if matchVersion(ip, ver) {
			out = append(out, ip)
		}
	}
	if len(out) == 0 {
		return dialTarget{err: &net.AddrError{Err: "no suitable address found", Addr: host}}
	}
	return dialTarget{addrs: out, port: port}
}

// dialFuture connects to each address in turn. Its states:
//
//	resolve != nil      waiting for the blocking pool to resolve the host
//	fd == nil           about to start connecting to addrs[next]
//	fd != nil           connecting: waiting for the socket to be writable
//	done                ready was returned (or an early error is stored)
//
// A timer, when there is a timeout, is polled whenever the dial is
// pending.
type dialFuture struct {
	network   string
	ver       byte
	keepAlive time.Duration
	resolve   smol.Future[dialTarget]
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

func (f *dialFuture) fail(addr net.Addr, err error) *dialFuture {
	f.early = &net.OpError{Op: "dial", Net: f.network, Addr: addr, Err: err}
	return f
}

// Poll advances the dial.
func (f *dialFuture) Poll(cx *smol.Context) (smol.Result[*TCPConn], bool) {
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
		if _, fired := f.timer.Poll(cx); fired {
			var addr net.Addr
			if f.fd != nil {
				addr = tcpAddr(f.raddr)
			}
			f.closeSocket()
			return f.finish(nil, &net.OpError{Op: "dial", Net: f.network, Addr: addr, Err: os.ErrDeadlineExceeded})
		}
	}
	return smol.Result[*TCPConn]{}, false
}

func (f *dialFuture) finish(c *TCPConn, err error) (smol.Result[*TCPConn], bool) {
	f.done = true
	if f.timer != nil {
		f.timer.Stop()
	}
	return smol.Result[*TCPConn]{Value: c, Err: err}, true
}

// step runs the state machine until it is pending or done.
func (f *dialFuture) step(cx *smol.Context) (*TCPConn, bool, error) {
	for {
		// Waiting for the resolver.
		if f.resolve != nil {
			t, ok := f.resolve.Poll(cx)
			if !ok {
				return nil, false, nil
			}
			f.resolve = nil
			if t.err != nil {
				return nil, true, &net.OpError{Op: "dial", Net: f.network, Err: t.err}
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
		ok, err := f.fd.PollWritable(cx)
		if !ok {
			return nil, false, nil
		}
		if err == nil {
			err = control(f.fd, func(s int) error {
				soerr, err := unix.GetsockoptInt(s, unix.SOL_SOCKET, unix.SO_ERROR)
				if err != nil {
					return err
				}
				if soerr != 0 {
					return unix.Errno(soerr)
				}
				return nil
			})
			if err == nil {
				return f.established()
			}
		}
		f.closeSocket()
		f.failed(sockErr("connect", err))
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
	s, err := sysSocket(family, unix.SOCK_STREAM)
	if err != nil {
		return false, sockErr("socket", err)
	}
	fd, err := smol.NewFD(s)
	if err != nil {
		unix.Close(s)
		return false, err
	}
	fd.SetStream() // a TCP stream: see smol.FD.SetStream
	f.fd = fd
	f.guard.fd.Store(fd)
	// Registered before connecting, so the edge that ends the connect is
	// not missed. The descriptor is ours alone until the dial is done.
	switch err := unix.Connect(s, sa); err {
	case nil:
		return true, nil
	case unix.EINPROGRESS, unix.EALREADY, unix.EINTR:
		return false, nil
	default:
		f.closeSocket()
		return false, sockErr("connect", err)
	}
}

// failed records the error of one address; the first one is reported if
// none succeeds.
func (f *dialFuture) failed(err error) {
	if f.firstErr == nil {
		f.firstErr = &net.OpError{Op: "dial", Net: f.network, Addr: tcpAddr(f.raddr), Err: err}
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
		return nil, true, &net.OpError{Op: "dial", Net: f.network, Addr: tcpAddr(f.raddr), Err: sockErr("setsockopt", err)}
	}
	f.guard.fd.Store(nil)
	f.fd = nil
	return closeWhenUnreachable(&TCPConn{stream: stream{fd}, laddr: &laddr, raddr: f.raddr}, fd), true, nil
}
