package smolnet

import (
	"context"
	"net"
	"net/netip"
	"strconv"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/blocking"
)

// ipNetwork checks an IP network name against base ("tcp" or "udp") and
// returns the IP version it is limited to: 4, 6, or 0 for either.
func ipNetwork(network, base string) (ver byte, err error) {
	switch network {
	case base:
		return 0, nil
	case base + "4":
		return 4, nil
	case base + "6":
		return 6, nil
	}
	return 0, net.UnknownNetworkError(network)
}

// addrSpec is a "host:port" address parsed for a network: the one parser
// behind Dial, Listen, ListenUDP and DialUDP. The resolution rules are the
// package documentation's (Addresses).
type addrSpec struct {
	network string // as given: "tcp", "udp6", ...
	ver     byte   // the IP version the network is limited to: 4, 6, or 0 for either
	address string
	host    string
	service string // a port number or a service name
}

// target is what an address resolves to: for a dial, the addresses to
// try in turn; for a listen, the one to bind, invalid for every local
// address.
type target struct {
	addrs []netip.Addr
	port  uint16
}

// first returns the first address of t with its port.
func (t target) first() netip.AddrPort { return netip.AddrPortFrom(t.addrs[0], t.port) }

// parseAddr checks network against base ("tcp" or "udp") and splits
// address. It never blocks.
func parseAddr(network, base, address string) (addrSpec, error) {
	ver, err := ipNetwork(network, base)
	if err != nil {
		return addrSpec{}, err
	}
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return addrSpec{}, err
	}
	return addrSpec{network: network, ver: ver, address: address, host: host, service: service}, nil
}

// quick resolves a without a lookup if it can: when the port is a number
// and the host an IP literal or empty. done is false when a lookup is
// needed, which resolve does.
func (a *addrSpec) quick(listen bool) (t target, done bool, err error) {
	port, err := strconv.ParseUint(a.service, 10, 16)
	if err != nil {
		return target{}, false, nil // a service name; resolve reports a bad number
	}
	var ip netip.Addr
	switch {
	case a.host == "" && listen:
		// Every local address: the invalid Addr.
	case a.host == "":
		ip = loopback(a.ver)
	default:
		if ip, err = netip.ParseAddr(a.host); err != nil {
			return target{}, false, nil // a host name
		}
		ip = ip.Unmap()
		if !matchVersion(ip, a.ver) {
			return target{}, true, a.unsuitable()
		}
	}
	return target{addrs: []netip.Addr{ip}, port: uint16(port)}, true, nil
}

// resolve resolves a, looking the service name and the host name up if
// need be, which blocks: Dial calls it on the blocking pool, the others on
// the caller's goroutine. For a dial the target holds every address of the
// right IP version, in the resolver's order; for a listen, the one address
// to bind, IPv4 first when either will do, as in Go's net.
func (a *addrSpec) resolve(listen bool) (target, error) {
	if t, done, err := a.quick(listen); done {
		return t, err
	}
	port, err := lookupPort(a.network, a.service)
	if err != nil {
		return target{}, err
	}
	if a.host == "" {
		// A service name with no host: the same rules as a number.
		if listen {
			return target{addrs: []netip.Addr{{}}, port: port}, nil
		}
		return target{addrs: []netip.Addr{loopback(a.ver)}, port: port}, nil
	}
	ips, err := lookupHost(a.host)
	if err != nil {
		return target{}, err
	}
	var out []netip.Addr
	for _, ip := range ips {
		switch {
		case !matchVersion(ip, a.ver):
		case !listen:
			out = append(out, ip)
		case len(out) == 0:
			out = append(out, ip)
		case a.ver == 0 && ip.Is4() && !out[0].Is4():
			out[0] = ip
		}
	}
	if len(out) == 0 {
		return target{}, a.unsuitable()
	}
	return target{addrs: out, port: port}, nil
}

func (a *addrSpec) unsuitable() error {
	return &net.AddrError{Err: "no suitable address found", Addr: a.address}
}

// loopback is the address a dial to an empty host reaches: the local
// system, over IPv4 unless the network is limited to IPv6.
func loopback(ver byte) netip.Addr {
	if ver == 6 {
		return netip.IPv6Loopback()
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// lookupPort parses a port number or looks a service name up in the
// services database (which Go caches after the first read).
func lookupPort(network, service string) (uint16, error) {
	n, err := net.LookupPort(network, service)
	if err != nil {
		return 0, err
	}
	return uint16(n), nil
}

// matchVersion reports whether ip is usable on a network limited to ver.
func matchVersion(ip netip.Addr, ver byte) bool {
	switch ver {
	case 4:
		return ip.Unmap().Is4()
	case 6:
		return ip.Is6() && !ip.Is4In6()
	}
	return true
}

// lookupHost resolves host to its addresses, IPv4-mapped ones unmapped,
// blocking the caller; Resolve runs it on the blocking pool.
func lookupHost(host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
	if err != nil {
		return nil, err
	}
	for i, ip := range ips {
		ips[i] = ip.Unmap()
	}
	return ips, nil
}

// Resolve returns a future of the IP addresses of host, a host name or an
// IP literal. A literal is parsed inline and the future is ready at once; a
// host name is looked up with net.DefaultResolver on the blocking pool
// ([blocking.Unblock]), so no executor goroutine waits on DNS. The error of a
// failed lookup is a *net.DNSError.
func Resolve(host string) smol.Future[[]netip.Addr] {
	if ip, err := netip.ParseAddr(host); err == nil {
		return smol.Ready([]netip.Addr{ip.Unmap()})
	}
	return blocking.Unblock(func() ([]netip.Addr, error) { return lookupHost(host) })
}
