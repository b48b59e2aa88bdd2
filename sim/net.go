package sim

import (
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"syscall"
	"time"

	"github.com/smolgo/smol"
)

// Net is a simulation's network: its hosts and the links between them.
// Messages travel as the clock's alarms, so everything in flight replays
// with the seed: latency, jitter, loss, duplication and reordering are
// drawn from it.
//
// Streams (Dial, Listen) are reliable and ordered, as TCP is: a partition
// or a hold delays their bytes, it does not lose them, and a reset ends
// them. Datagrams (ListenPacket) may be lost, duplicated and reordered as
// their link says, and a partition loses them.
type Net struct {
	s      *Sim
	hosts  map[string]*Host
	byAddr map[netip.Addr]*Host
	links  map[[2]*Host]*link
	def    Link
	all    []*Conn // the client ends of the live connections, for ResetConns
}

// Link is how messages travel in one direction between two hosts.
type Link struct {
	Latency   time.Duration // one way
	Jitter    time.Duration // up to this much more per message, drawn from the seed
	Loss      float64       // the probability that a datagram is lost
	Duplicate float64       // the probability that a datagram arrives twice
}

// link is a Link and its state: cut by a partition, or holding its
// messages until they are released.
type link struct {
	Link
	cut, hold bool
	held      []func() // deliveries waiting for a repair or a release, in order
	last      time.Time
}

// DefaultLink is a link's setting until SetLink changes it: 1 ms each way,
// no jitter, nothing lost.
var DefaultLink = Link{Latency: time.Millisecond}

func newNet(s *Sim) *Net {
	return &Net{s: s, hosts: map[string]*Host{}, byAddr: map[netip.Addr]*Host{}, links: map[[2]*Host]*link{}, def: DefaultLink}
}

// Net returns the simulation's network.
func (s *Sim) Net() *Net { return s.net }

// Host returns the host called name, making it if it does not exist yet:
// hosts get the addresses 10.0.0.1, 10.0.0.2, ... in the order they are
// made, and their names resolve to them.
func (s *Sim) Host(name string) *Host {
	n := s.net
	if h, ok := n.hosts[name]; ok {
		return h
	}
	i := len(n.hosts) + 1
	h := &Host{n: n, name: name, addr: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}),
		listeners: map[uint16]*Listener{}, packets: map[uint16]*PacketConn{}, nextPort: 49152}
	n.hosts[name], n.byAddr[h.addr] = h, h
	return h
}

// link returns the state of the link from a to b.
func (n *Net) link(a, b *Host) *link {
	l, ok := n.links[[2]*Host{a, b}]
	if !ok {
		l = &link{Link: n.def}
		n.links[[2]*Host{a, b}] = l
	}
	return l
}

// SetLink sets the link from a to b, in that direction only.
func (n *Net) SetLink(a, b *Host, l Link) { n.link(a, b).Link = l }

// SetDefault sets every link that SetLink has not set, including the links
// of hosts made later.
func (n *Net) SetDefault(l Link) {
	n.def = l
	for _, lk := range n.links {
		lk.Link = l
	}
}

// Partition cuts a from b, in both directions, until Repair: datagrams
// between them are lost, stream bytes wait (as TCP's retransmissions do),
// and dials wait.
func (n *Net) Partition(a, b *Host) {
	n.s.Tracef("net: partition %s | %s", a.name, b.name)
	n.link(a, b).cut, n.link(b, a).cut = true, true
}

// Repair undoes Partition; the stream bytes and dials that waited travel
// now, each with its link's latency.
func (n *Net) Repair(a, b *Host) {
	n.s.Tracef("net: repair %s | %s", a.name, b.name)
	for _, l := range []*link{n.link(a, b), n.link(b, a)} {
		l.cut = false
		n.flush(l)
	}
}

// Hold keeps every message from a to b and from b to a, datagrams too,
// until Release, as turmoil's hold does: a message can be made to arrive
// late, after others it would have preceded.
func (n *Net) Hold(a, b *Host) {
	n.s.Tracef("net: hold %s <-> %s", a.name, b.name)
	n.link(a, b).hold, n.link(b, a).hold = true, true
}

// Release delivers what Hold kept, in the order it was sent, each with its
// link's latency from now.
func (n *Net) Release(a, b *Host) {
	n.s.Tracef("net: release %s <-> %s", a.name, b.name)
	for _, l := range []*link{n.link(a, b), n.link(b, a)} {
		l.hold = false
		n.flush(l)
	}
}

// flush sends what a link kept, unless it is still cut or holding.
func (n *Net) flush(l *link) {
	if l.cut || l.hold {
		return
	}
	held := l.held
	l.held = nil
	for _, deliver := range held {
		n.after(l, true, deliver)
	}
}

// after runs deliver once a message has crossed link l: after its latency
// plus jitter, and, for a stream (ordered), no sooner than the message sent
// before it on the link. A cut or holding link keeps it instead.
func (n *Net) after(l *link, ordered bool, deliver func()) {
	if l.cut || l.hold {
		l.held = append(l.held, deliver)
		return
	}
	d := l.Latency
	if l.Jitter > 0 {
		d += time.Duration(n.s.nrand.Int64N(int64(l.Jitter) + 1))
	}
	at := n.s.Now().Add(d)
	if ordered {
		if at.Before(l.last) {
			at = l.last
		}
		l.last = at
	}
	n.s.clk.AfterFunc(at.Sub(n.s.Now()), deliver)
}

// Host is a simulated machine with an address; it listens and dials.
type Host struct {
	n         *Net
	name      string
	addr      netip.Addr
	listeners map[uint16]*Listener
	packets   map[uint16]*PacketConn
	nextPort  uint16
}

// Name returns the host's name.
func (h *Host) Name() string { return h.name }

// Addr returns the host's address.
func (h *Host) Addr() netip.Addr { return h.addr }

func (h *Host) String() string { return h.name + " (" + h.addr.String() + ")" }

// port returns a free ephemeral port.
func (h *Host) port() uint16 {
	for {
		p := h.nextPort
		h.nextPort++
		if h.nextPort == 0 {
			h.nextPort = 49152
		}
		if h.listeners[p] == nil && h.packets[p] == nil {
			return p
		}
	}
}

// resolve turns "host:port" into an address: host is a host's name, an IP
// address, or empty (h itself).
func (h *Host) resolve(op, network, address string) (netip.AddrPort, *Host, error) {
	fail := func(err error) (netip.AddrPort, *Host, error) {
		return netip.AddrPort{}, nil, &net.OpError{Op: op, Net: network, Err: err}
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return fail(err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return fail(&net.AddrError{Err: "invalid port", Addr: address})
	}
	target := h
	if host != "" {
		if ip, err := netip.ParseAddr(host); err == nil {
			target = h.n.byAddr[ip]
		} else {
			target = h.n.hosts[host]
		}
		if target == nil {
			return fail(&net.DNSError{Err: "no such host", Name: host, IsNotFound: true})
		}
	}
	return netip.AddrPortFrom(target.addr, uint16(p)), target, nil
}

func checkNetwork(op, network, want string) error {
	if network != want {
		return &net.OpError{Op: op, Net: network, Err: net.UnknownNetworkError(network)}
	}
	return nil
}

// Listen listens for stream connections on address (":80", or the host's
// own name or address with a port; port 0 picks one), on network "tcp".
func (h *Host) Listen(network, address string) (*Listener, error) {
	ap, err := h.bind(network, "tcp", address, func(p uint16) bool { return h.listeners[p] != nil })
	if err != nil {
		return nil, err
	}
	l := &Listener{h: h, addr: ap}
	h.listeners[ap.Port()] = l
	return l, nil
}

// bind checks network and resolves address to a port of h for a listener
// or a datagram socket: a free ephemeral one for port 0, an error if the
// address is another host's or inUse says the port is taken.
func (h *Host) bind(network, want, address string, inUse func(uint16) bool) (netip.AddrPort, error) {
	if err := checkNetwork("listen", network, want); err != nil {
		return netip.AddrPort{}, err
	}
	ap, target, err := h.resolve("listen", network, address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	fail := func(errno syscall.Errno) (netip.AddrPort, error) {
		return netip.AddrPort{}, &net.OpError{Op: "listen", Net: network, Addr: addr(network, ap), Err: os.NewSyscallError("bind", errno)}
	}
	if target != h {
		return fail(syscall.EADDRNOTAVAIL)
	}
	if ap.Port() == 0 {
		ap = netip.AddrPortFrom(h.addr, h.port())
	}
	if inUse(ap.Port()) {
		return fail(syscall.EADDRINUSE)
	}
	return ap, nil
}

// addr is ap as the net.Addr of network.
func addr(network string, ap netip.AddrPort) net.Addr {
	if network == "udp" {
		return net.UDPAddrFromAddrPort(ap)
	}
	return net.TCPAddrFromAddrPort(ap)
}

// Listener accepts simulated stream connections; it has the poll and
// future methods of smolnet's listeners.
type Listener struct {
	h      *Host
	addr   netip.AddrPort
	queue  []*Conn
	waker  smol.Waker
	closed bool
}

// PollAccept takes the next connection, or waits for one.
func (l *Listener) PollAccept(cx *smol.Context) (*Conn, bool, error) {
	if !cx.Proceed() {
		return nil, false, nil
	}
	if l.closed {
		return nil, true, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
	if len(l.queue) == 0 {
		l.waker = cx.Waker()
		cx.WaitingOn(l, smol.WaitAccept)
		return nil, false, nil
	}
	c := l.queue[0]
	l.queue = l.queue[1:]
	return c, true, nil
}

// Accept returns a future of the next connection.
func (l *Listener) Accept() smol.Future[*Conn] {
	return smol.PollFn(l.PollAccept)
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// AddrPort returns the listener's address.
func (l *Listener) AddrPort() netip.AddrPort { return l.addr }

// Close stops listening; a waiting accept fails with net.ErrClosed, and
// connections not yet accepted are reset.
func (l *Listener) Close() error {
	if l.closed {
		return &net.OpError{Op: "close", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
	l.closed = true
	delete(l.h.listeners, l.addr.Port())
	for _, c := range l.queue {
		c.reset()
	}
	l.queue = nil
	wake(&l.waker)
	return nil
}

func (l *Listener) String() string { return "sim listener " + l.addr.String() }

// wake wakes and forgets a stored waker.
func wake(w *smol.Waker) {
	if *w != nil {
		ww := *w
		*w = nil
		ww.Wake()
	}
}

// Dial returns a future that connects to address ("name:port" or
// "ip:port") on network "tcp": the connection request crosses the link and
// the answer comes back, so a dial takes a round trip; it fails with
// ECONNREFUSED if nothing listens there, and waits while the hosts are
// partitioned (bound it with smol.Timeout).
func (h *Host) Dial(network, address string) smol.Future[*Conn] {
	d := &dial{h: h}
	if d.err = checkNetwork("dial", network, "tcp"); d.err == nil {
		d.raddr, d.target, d.err = h.resolve("dial", network, address)
	}
	return d
}

// dial is the future of Dial. Its state: started (the request is in
// flight), then done with conn or err.
type dial struct {
	h       *Host
	target  *Host
	raddr   netip.AddrPort
	started bool
	done    bool
	conn    *Conn
	err     error
	waker   smol.Waker
}

func (d *dial) Poll(cx *smol.Context) (*Conn, bool, error) {
	if d.err != nil || d.done {
		return d.conn, true, d.err
	}
	d.waker = cx.Waker()
	if !d.started {
		d.started = true
		d.send()
	}
	cx.WaitingOn(d, smol.WaitWrite)
	return nil, false, nil
}

func (d *dial) String() string { return "sim dial " + d.raddr.String() }

// send carries the connection request to the target, and its answer back.
func (d *dial) send() {
	n, h, t := d.h.n, d.h, d.target
	laddr := netip.AddrPortFrom(h.addr, h.port())
	n.s.Tracef("net: dial %s -> %s", laddr, d.raddr)
	n.after(n.link(h, t), true, func() {
		l := t.listeners[d.raddr.Port()]
		if l != nil {
			client, server := newConnPair(n, h, t, laddr, d.raddr)
			l.queue = append(l.queue, server)
			wake(&l.waker)
			d.conn = client
		}
		n.after(n.link(t, h), true, func() {
			d.done = true
			if l == nil {
				n.s.Tracef("net: dial %s -> %s refused", laddr, d.raddr)
				d.err = &net.OpError{Op: "dial", Net: "tcp", Source: net.TCPAddrFromAddrPort(laddr), Addr: net.TCPAddrFromAddrPort(d.raddr), Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
			}
			wake(&d.waker)
		})
	})
}

// Discard gives up the dial; a connection made meanwhile is reset.
func (d *dial) Discard() {
	if d.conn != nil && !d.done {
		d.conn.reset()
	}
	d.waker = nil
}

// window is how many bytes a stream lets be sent and not yet read.
const window = 64 << 10

// Conn is one end of a simulated stream connection. It has the poll and
// future methods of smolnet's connections (PollRead, PollWrite, Read,
// Write, WriteAll, CloseWrite, Close, LocalAddr, RemoteAddr), so code
// written against an interface of those runs on both.
type Conn struct {
	n              *Net
	lh, rh         *Host
	laddr, raddr   netip.AddrPort
	peer           *Conn
	buf            []byte // received and not yet read
	eof            bool   // the peer's FIN arrived, after all its bytes
	resetErr       bool   // the connection was reset
	closed, wshut  bool   // Close was called; the sending side was shut
	unread         int    // bytes sent that the peer has not read yet
	rwaker, wwaker smol.Waker
}

func newConnPair(n *Net, a, b *Host, aaddr, baddr netip.AddrPort) (*Conn, *Conn) {
	ca := &Conn{n: n, lh: a, rh: b, laddr: aaddr, raddr: baddr}
	cb := &Conn{n: n, lh: b, rh: a, laddr: baddr, raddr: aaddr}
	ca.peer, cb.peer = cb, ca
	n.all = append(n.all, ca)
	return ca, cb
}

func (c *Conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// PollRead reads into p: ready with n > 0 bytes, io.EOF after the peer's
// close once everything it sent is read, or an error (ECONNRESET after a
// reset, net.ErrClosed after Close).
func (c *Conn) PollRead(cx *smol.Context, p []byte) (int, bool, error) {
	if !cx.Proceed() {
		return 0, false, nil
	}
	switch {
	case c.closed:
		return 0, true, c.opErr("read", net.ErrClosed)
	case c.resetErr:
		return 0, true, c.opErr("read", os.NewSyscallError("read", syscall.ECONNRESET))
	case len(p) == 0:
		return 0, true, nil
	case len(c.buf) > 0:
		n := copy(p, c.buf)
		c.buf = c.buf[n:]
		// The window opens at once (acknowledgements are not simulated).
		c.peer.unread -= n
		wake(&c.peer.wwaker)
		return n, true, nil
	case c.eof:
		return 0, true, io.EOF
	}
	c.rwaker = cx.Waker()
	cx.WaitingOn(c, smol.WaitRead)
	return 0, false, nil
}

// PollWrite sends from p as much as the window takes: pending while the
// peer has a window's worth of bytes unread (back-pressure).
func (c *Conn) PollWrite(cx *smol.Context, p []byte) (int, bool, error) {
	if !cx.Proceed() {
		return 0, false, nil
	}
	switch {
	case c.closed:
		return 0, true, c.opErr("write", net.ErrClosed)
	case c.resetErr:
		return 0, true, c.opErr("write", os.NewSyscallError("write", syscall.ECONNRESET))
	case c.wshut:
		return 0, true, c.opErr("write", os.NewSyscallError("write", syscall.EPIPE))
	case len(p) == 0:
		return 0, true, nil
	case c.unread >= window:
		c.wwaker = cx.Waker()
		cx.WaitingOn(c, smol.WaitWrite)
		return 0, false, nil
	}
	n := min(len(p), window-c.unread)
	c.unread += n
	data := append([]byte(nil), p[:n]...)
	c.n.s.Tracef("net: send %s -> %s %d bytes", c.laddr, c.raddr, n)
	peer := c.peer
	c.n.after(c.n.link(c.lh, c.rh), true, func() {
		if peer.closed || peer.resetErr {
			c.reset() // bytes for a closed socket: the sender is reset
			return
		}
		peer.buf = append(peer.buf, data...)
		wake(&peer.rwaker)
	})
	return n, true, nil
}

// Read returns a future of one read into p.
func (c *Conn) Read(p []byte) smol.Future[int] {
	return smol.PollFn(func(cx *smol.Context) (int, bool, error) { return c.PollRead(cx, p) })
}

// Write returns a future of one write from p.
func (c *Conn) Write(p []byte) smol.Future[int] {
	return smol.PollFn(func(cx *smol.Context) (int, bool, error) { return c.PollWrite(cx, p) })
}

// WriteAll returns a future that writes all of p: ready with len(p), or
// failing with the count written before the error.
func (c *Conn) WriteAll(p []byte) smol.Future[int] {
	n := 0
	return smol.PollFn(func(cx *smol.Context) (int, bool, error) {
		for n < len(p) {
			m, ok, err := c.PollWrite(cx, p[n:])
			if !ok {
				return 0, false, nil
			}
			n += m
			if err != nil {
				return n, true, err
			}
		}
		return n, true, nil
	})
}

// fin sends the end of the stream after what was sent before it.
func (c *Conn) fin() {
	peer := c.peer
	c.n.after(c.n.link(c.lh, c.rh), true, func() {
		peer.eof = true
		wake(&peer.rwaker)
	})
}

// CloseWrite shuts down the sending side: the peer reads io.EOF after
// everything sent before.
func (c *Conn) CloseWrite() error {
	if c.closed {
		return c.opErr("close", net.ErrClosed)
	}
	if !c.wshut {
		c.wshut = true
		c.fin()
	}
	return nil
}

// Close closes the connection: the peer reads io.EOF after what was sent
// before, and waiters here fail with net.ErrClosed.
func (c *Conn) Close() error {
	if c.closed {
		return c.opErr("close", net.ErrClosed)
	}
	if !c.wshut && !c.resetErr {
		c.wshut = true
		c.fin()
	}
	c.closed = true
	wake(&c.rwaker)
	wake(&c.wwaker)
	return nil
}

// reset ends the connection at once on both sides: every operation fails
// with ECONNRESET.
func (c *Conn) reset() {
	for _, e := range []*Conn{c, c.peer} {
		if !e.resetErr {
			e.resetErr = true
			e.buf = nil
			wake(&e.rwaker)
			wake(&e.wwaker)
		}
	}
}

// Reset resets c, as a fault: both ends fail with ECONNRESET from now on.
func (c *Conn) Reset() {
	c.n.s.Tracef("net: reset %s <-> %s", c.laddr, c.raddr)
	c.reset()
}

// LocalAddr returns the local address, a *net.TCPAddr.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.laddr) }

// RemoteAddr returns the peer's address, a *net.TCPAddr.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.raddr) }

// LocalAddrPort returns the local address.
func (c *Conn) LocalAddrPort() netip.AddrPort { return c.laddr }

// RemoteAddrPort returns the peer's address.
func (c *Conn) RemoteAddrPort() netip.AddrPort { return c.raddr }

func (c *Conn) String() string { return "sim tcp " + c.laddr.String() + " <- " + c.raddr.String() }

// datagrams is how many datagrams a PacketConn queues; more are dropped,
// as a full socket buffer drops them.
const datagrams = 256

// ListenPacket opens a datagram socket on address (":53", port 0 picks
// one), on network "udp".
func (h *Host) ListenPacket(network, address string) (*PacketConn, error) {
	ap, err := h.bind(network, "udp", address, func(p uint16) bool { return h.packets[p] != nil })
	if err != nil {
		return nil, err
	}
	pc := &PacketConn{h: h, addr: ap}
	h.packets[ap.Port()] = pc
	return pc, nil
}

// PacketConn is a simulated datagram socket, with the poll and future
// methods of smolnet's UDPConn for unconnected use.
type PacketConn struct {
	h      *Host
	addr   netip.AddrPort
	queue  []datagram
	waker  smol.Waker
	closed bool
}

type datagram struct {
	data []byte
	from netip.AddrPort
}

// PollReadFrom reads one datagram into p (truncating it if p is short), and
// reports its sender.
func (pc *PacketConn) PollReadFrom(cx *smol.Context, p []byte) (int, netip.AddrPort, bool, error) {
	if !cx.Proceed() {
		return 0, netip.AddrPort{}, false, nil
	}
	if pc.closed {
		return 0, netip.AddrPort{}, true, &net.OpError{Op: "read", Net: "udp", Addr: net.UDPAddrFromAddrPort(pc.addr), Err: net.ErrClosed}
	}
	if len(pc.queue) == 0 {
		pc.waker = cx.Waker()
		cx.WaitingOn(pc, smol.WaitRead)
		return 0, netip.AddrPort{}, false, nil
	}
	d := pc.queue[0]
	pc.queue = pc.queue[1:]
	return copy(p, d.data), d.from, true, nil
}

// PollWriteTo sends p to the address to as one datagram; it never waits.
// Whether and when it arrives is up to the link.
func (pc *PacketConn) PollWriteTo(cx *smol.Context, p []byte, to netip.AddrPort) (int, bool, error) {
	if !cx.Proceed() {
		return 0, false, nil
	}
	if pc.closed {
		return 0, true, &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(to), Err: net.ErrClosed}
	}
	n := pc.h.n
	target := n.byAddr[to.Addr()]
	if target == nil {
		return len(p), true, nil // nobody there: lost, as on a real network
	}
	l := n.link(pc.h, target)
	data := append([]byte(nil), p...)
	copies := 1
	switch {
	case l.cut:
		n.s.Tracef("net: lost (partition) %s -> %s %d bytes", pc.addr, to, len(p))
		return len(p), true, nil
	case l.Loss > 0 && n.s.nrand.Float64() < l.Loss:
		n.s.Tracef("net: lost %s -> %s %d bytes", pc.addr, to, len(p))
		return len(p), true, nil
	case l.Duplicate > 0 && n.s.nrand.Float64() < l.Duplicate:
		copies = 2
	}
	n.s.Tracef("net: send %s -> %s %d bytes x%d", pc.addr, to, len(p), copies)
	from := pc.addr
	for range copies {
		n.after(l, false, func() {
			dst := target.packets[to.Port()]
			if dst == nil || dst.closed || len(dst.queue) >= datagrams {
				return
			}
			dst.queue = append(dst.queue, datagram{data, from})
			wake(&dst.waker)
		})
	}
	return len(p), true, nil
}

// ReadFrom returns a future of one datagram read into p: its length and
// sender.
func (pc *PacketConn) ReadFrom(p []byte) smol.Future[From] {
	return smol.PollFn(func(cx *smol.Context) (From, bool, error) {
		n, addr, ok, err := pc.PollReadFrom(cx, p)
		return From{n, addr}, ok, err
	})
}

// From is what ReadFrom returns.
type From struct {
	N    int
	Addr netip.AddrPort
}

// WriteTo returns a future that sends p to the address to.
func (pc *PacketConn) WriteTo(p []byte, to netip.AddrPort) smol.Future[int] {
	return smol.PollFn(func(cx *smol.Context) (int, bool, error) { return pc.PollWriteTo(cx, p, to) })
}

// LocalAddrPort returns the socket's address.
func (pc *PacketConn) LocalAddrPort() netip.AddrPort { return pc.addr }

// Close closes the socket; a waiting read fails with net.ErrClosed.
func (pc *PacketConn) Close() error {
	if pc.closed {
		return &net.OpError{Op: "close", Net: "udp", Addr: net.UDPAddrFromAddrPort(pc.addr), Err: net.ErrClosed}
	}
	pc.closed = true
	delete(pc.h.packets, pc.addr.Port())
	wake(&pc.waker)
	return nil
}

func (pc *PacketConn) String() string { return "sim udp " + pc.addr.String() }

// ResetConns resets every open stream connection between a and b, as a
// fault (a middlebox dropping its state, a peer rebooting).
func (n *Net) ResetConns(a, b *Host) {
	n.s.Tracef("net: reset connections %s <-> %s", a.name, b.name)
	for _, c := range n.conns(a, b) {
		c.reset()
	}
}

// conns lists the open connections between a and b; the network does not
// track them otherwise, so they are kept here as they are made.
func (n *Net) conns(a, b *Host) []*Conn {
	var out []*Conn
	live := n.all[:0]
	for _, c := range n.all {
		if (c.closed && c.peer.closed) || c.resetErr {
			continue // over: forget it
		}
		live = append(live, c)
		if c.lh == a && c.rh == b || c.lh == b && c.rh == a {
			out = append(out, c)
		}
	}
	clear(n.all[len(live):])
	n.all = live
	return out
}
