//go:build linux

package poller

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BenchmarkSyscallKind compares the scheduler-aware unix.Syscall6 (which
// calls entersyscall/exitsyscall so the P can be handed off) with
// unix.RawSyscall6 (which does not) on the two calls that never block: a
// timeout-0 epoll_pwait and an epoll_ctl(MOD). It decides whether the
// non-blocking paths should use raw system calls. The read_eagain cases
// price the extra read that an edge-triggered reader pays when it reads
// until EAGAIN, against the epoll_ctl a one-shot reader pays to re-arm.
func BenchmarkSyscallKind(b *testing.B) {
	p := newTestPoller(b)
	a, _ := socketPair(b)
	tc, _ := tcpPair(b)
	if err := p.AddOneShot(a, 1, false, false); err != nil {
		b.Fatal(err)
	}
	raw := make([]unix.EpollEvent, 16)
	ev := unix.EpollEvent{Events: unix.EPOLLONESHOT}
	type call func(trap, a1, a2, a3, a4, a5, a6 uintptr) (uintptr, uintptr, unix.Errno)
	for _, k := range []struct {
		name string
		f    call
	}{{"Syscall6", unix.Syscall6}, {"RawSyscall6", unix.RawSyscall6}} {
		b.Run("epoll_pwait0/"+k.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				k.f(unix.SYS_EPOLL_PWAIT, uintptr(p.b.epfd), uintptr(unsafe.Pointer(&raw[0])), uintptr(len(raw)), 0, 0, 0)
			}
		})
		b.Run("read_eagain_unix/"+k.name, func(b *testing.B) {
			var buf [64]byte
			for i := 0; i < b.N; i++ {
				k.f(unix.SYS_READ, uintptr(a), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
			}
		})
		b.Run("read_eagain_tcp/"+k.name, func(b *testing.B) {
			var buf [64]byte
			for i := 0; i < b.N; i++ {
				k.f(unix.SYS_READ, uintptr(tc), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0, 0)
			}
		})
		b.Run("epoll_ctl_mod/"+k.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				k.f(unix.SYS_EPOLL_CTL, uintptr(p.b.epfd), unix.EPOLL_CTL_MOD, uintptr(a), uintptr(unsafe.Pointer(&ev)), 0, 0)
			}
		})
	}
}
