//go:build darwin || freebsd || openbsd || dragonfly

package poller

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// tagSpace carries an 8-bit tag in a *byte udata: the tag is the offset of
// the pointer into this array. The pointer is a genuine Go pointer into an
// array the Poller keeps alive, so vet and the garbage collector are both
// satisfied; the reverse direction only turns a pointer into an integer.
type tagSpace [256]byte

func (t *tagSpace) set(ev *unix.Kevent_t, tag uint8) { ev.Udata = &t[tag] }

// get returns the tag of ev, or false if its udata does not point into t.
func (t *tagSpace) get(ev *unix.Kevent_t) (uint8, bool) {
	if ev.Udata == nil {
		return 0, false
	}
	off := uintptr(unsafe.Pointer(ev.Udata)) - uintptr(unsafe.Pointer(&t[0]))
	if off >= uintptr(len(t)) {
		return 0, false
	}
	return uint8(off), true
}
