// Package procfs reads the few /proc figures the benchmark harness needs:
// resident memory (VmRSS), CPU time (utime+stime) and the number of open
// file descriptors of a process.
//
// They are read from the outside by the load generator, given the server's
// PID, so that measuring a server does not depend on its cooperation and
// costs it nothing.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"
)

// ClockTicks is the kernel's USER_HZ, the unit of utime and stime in
// /proc/PID/stat. It is 100 on every Linux architecture Go supports
// (getconf CLK_TCK); reading it properly needs sysconf, which needs cgo.
const ClockTicks = 100

// RSS returns the resident set size of process pid in bytes, read from the
// VmRSS line of /proc/pid/status. pid 0 means the calling process.
func RSS(pid int) (int64, error) {
	path := "/proc/self/status"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/status", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The line looks like "VmRSS:\t   12345 kB".
	i := bytes.Index(b, []byte("\nVmRSS:"))
	if i < 0 {
		return 0, errors.New("procfs: no VmRSS line in " + path)
	}
	line := b[i+len("\nVmRSS:"):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	f := bytes.Fields(line)
	if len(f) != 2 || string(f[1]) != "kB" {
		return 0, fmt.Errorf("procfs: odd VmRSS line %q in %s", line, path)
	}
	kb, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil {
		return 0, err
	}
	return kb * 1024, nil
}

// CPUTime returns the user plus system CPU time that process pid has used
// so far, all threads included (also threads that have exited), read from
// /proc/pid/stat. Its resolution is one clock tick (10 ms).
func CPUTime(pid int) (time.Duration, error) {
	path := "/proc/self/stat"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/stat", pid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may itself hold
	// spaces or parentheses, so fields are counted from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("procfs: malformed " + path)
	}
	f := bytes.Fields(b[i+1:])
	// After ')': field 3 (state) is f[0], so utime (field 14) is f[11] and
	// stime (field 15) is f[12].
	if len(f) < 13 {
		return 0, errors.New("procfs: short " + path)
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("procfs: bad utime/stime in " + path)
	}
	return time.Duration(ut+st) * time.Second / ClockTicks, nil
}

// FDCount returns the number of open file descriptors of process pid: the
// entries of /proc/pid/fd. pid 0 means the calling process, whose count
// includes the descriptor this call opens to read the directory. Reading
// another user's process needs the right to ptrace it.
func FDCount(pid int) (int, error) {
	path := "/proc/self/fd"
	if pid != 0 {
		path = fmt.Sprintf("/proc/%d/fd", pid)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return 0, err
	}
	return len(names), nil
}
