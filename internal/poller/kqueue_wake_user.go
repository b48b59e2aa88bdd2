//go:build darwin || freebsd

package poller

import (
	"golang.org/x/sys/unix"
)

// wakeIdent is the ident of the EVFILT_USER event that wakes Wait. User
// events have their own ident space, so it cannot collide with an fd.
const wakeIdent = 0x736d6f6c // "smol"

// initWake registers the user event with EV_CLEAR: retrieving it resets
// it, so a triggered wake-up is consumed by the Wait that reports it.
func (b *backend) initWake() error {
	var ch [1]unix.Kevent_t
	unix.SetKevent(&ch[0], wakeIdent, unix.EVFILT_USER, unix.EV_ADD|unix.EV_CLEAR)
	return b.kevent(ch[:])
}

// wake triggers the user event: one kevent call.
func (b *backend) wake() error {
	var ch [1]unix.Kevent_t
	unix.SetKevent(&ch[0], wakeIdent, unix.EVFILT_USER, 0)
	ch[0].Fflags = unix.NOTE_TRIGGER
	return b.kevent(ch[:])
}

// isWake reports whether ev is the wake-up event.
func (b *backend) isWake(ev *unix.Kevent_t) bool {
	return ev.Filter == unix.EVFILT_USER && ev.Ident == wakeIdent
}

// drainWake has nothing to do: EV_CLEAR reset the event when it was
// retrieved.
func (b *backend) drainWake() {}
