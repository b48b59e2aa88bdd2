//go:build netbsd

package poller

import "golang.org/x/sys/unix"

// tagSpace carries an 8-bit tag in NetBSD's integer udata (int64 on 64-bit
// ports, int32 on 32-bit ones). It stores tag+1, so that the zero udata of
// the wake-up pipe's event is never a tag.
type tagSpace struct{}

func (*tagSpace) set(ev *unix.Kevent_t, tag uint8) { setUdata(&ev.Udata, tag) }

func (*tagSpace) get(ev *unix.Kevent_t) (uint8, bool) { return getUdata(ev.Udata) }

func setUdata[T int32 | int64](u *T, tag uint8) { *u = T(tag) + 1 }

func getUdata[T int32 | int64](u T) (uint8, bool) {
	if u < 1 || u > 256 {
		return 0, false
	}
	return uint8(u - 1), true
}
