//go:build !linux

package smolnet

import (
	"errors"
	"net/netip"
	"sync/atomic"

	"github.com/smolgo/smol"
)

// The completion path exists only on Linux (see uring_linux.go); these
// stand-ins let the shared code compile, and ringFor never returns a ring.

type cring struct{}

type uconn struct{ laddr tcpEndpoint }

type ulisten struct{}

func ringFor(*smol.Context, bool) (*cring, error) { return nil, nil }

var (
	errForeignRing = errors.New("unreachable")
	errMoved       = errors.New("unreachable")
)

func (*uconn) pollRead(*smol.Context, []byte) (int, bool, error)  { panic("unreachable") }
func (*uconn) pollWrite(*smol.Context, []byte) (int, bool, error) { panic("unreachable") }
func (*uconn) close() error                                       { panic("unreachable") }
func (*uconn) control(func(s int) error) error                    { panic("unreachable") }
func (*uconn) leave(*atomic.Pointer[smol.FD]) (*smol.FD, error)   { panic("unreachable") }

func (l *listener[A]) pollAcceptRing(*smol.Context, *cring, func(s int) error) (*uconn, netip.AddrPort, bool, bool, error) {
	panic("unreachable")
}

func (l *listener[A]) closeRing() {}
