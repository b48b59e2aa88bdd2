package smolnet

import (
	"net/netip"
	"testing"
	"unsafe"
)

// TestConnSize guards the size of an idle connection: the connection core
// holds the descriptor, a pointer to the local address (shared with the
// listener when it can be) and the peer's address, and nothing for the
// network, which its address type names. A field added to conn grows
// every idle connection (48 bytes for a TCPConn on 64-bit systems);
// TestIdleConnHeap measures the whole.
func TestConnSize(t *testing.T) {
	const ptr = unsafe.Sizeof(uintptr(0))
	if got, want := unsafe.Sizeof(TCPConn{}), 2*ptr+unsafe.Sizeof(netip.AddrPort{}); got != want {
		t.Errorf("TCPConn is %d bytes, want %d", got, want)
	}
	if got, want := unsafe.Sizeof(UnixConn{}), 2*ptr+unsafe.Sizeof(""); got != want {
		t.Errorf("UnixConn is %d bytes, want %d", got, want)
	}
}
