package smolnet

import (
	"context"
	"net"
	"net/netip"
	"strconv"

	"github.com/smolgo/smol"
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

// hostPort is an address split into a host and a numeric port.
type hostPort struct {
	host string
	port uint16
}

// splitHostPort splits address and parses its port, a number or a service
// name (looked up in the services database, which Go caches after the first
// read).
func splitHostPort(network, address string) (hostPort, error) {
	host, service, err := net.SplitHostPort(address)
	if err != nil {
		return hostPort{}, err
	}
	port, err := parsePort(network, service)
	if err != nil {
		return hostPort{}, err
	}
	return hostPort{host, port}, nil
}

func parsePort(network, service string) (uint16, error) {
	if n, err := strconv.ParseUint(service, 10, 16); err == nil {
		return uint16(n), nil
	}
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
// ([smol.Unblock]), so no executor goroutine waits on DNS. The error of a
// failed lookup is a *net.DNSError.
func Resolve(host string) smol.Future[smol.Result[[]netip.Addr]] {
	if ip, err := netip.ParseAddr(host); err == nil {
		return smol.Ready(smol.Result[[]netip.Addr]{Value: []netip.Addr{ip.Unmap()}})
	}
	return smol.Unblock(func() smol.Result[[]netip.Addr] {
		ips, err := lookupHost(host)
		return smol.Result[[]netip.Addr]{Value: ips, Err: err}
	})
}

// listenAddr resolves the local address of a listening socket. An empty
// host means every local address and yields the invalid netip.Addr in the
// result. A host name is resolved here, blocking the caller; the first
// address of the right version wins, IPv4 first when either will do, as in
// Go's net.
func listenAddr(network string, ver byte, address string) (netip.AddrPort, error) {
	hp, err := splitHostPort(network, address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if hp.host == "" {
		return netip.AddrPortFrom(netip.Addr{}, hp.port), nil
	}
	ips, err := lookupHost(hp.host)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var pick netip.Addr
	for _, ip := range ips {
		if !matchVersion(ip, ver) {
			continue
		}
		if !pick.IsValid() || (ver == 0 && ip.Is4() && !pick.Is4()) {
			pick = ip
		}
	}
	if !pick.IsValid() {
		return netip.AddrPort{}, &net.AddrError{Err: "no suitable address found", Addr: address}
	}
	return netip.AddrPortFrom(pick, hp.port), nil
}
