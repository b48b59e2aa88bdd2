//go:build linux

package echo_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/internal/echo"
	"github.com/smolgo/smol/smolnet"
)

// idleChildEnv makes the test binary an echo server (see TestMain).
const idleChildEnv = "SMOL_ECHO_IDLE_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(idleChildEnv) == "1" {
		serveForever()
		return
	}
	os.Exit(m.Run())
}

// serveForever runs the echo server the way bench/cmd/echo-smol does, on
// the main goroutine, and prints its address.
func serveForever() {
	ln, err := smolnet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	fmt.Println(ln.AddrPort())
	ex := smol.NewLocalExecutor()
	_, err = smol.Run(ex, echo.NewServer(ln, ex))
	fmt.Println("stopped:", err)
	os.Exit(1)
}

// wakeups sums, over every thread of process pid, the context switches
// (voluntary and not) and the CPU clock ticks (user and system) so far.
func wakeups(t *testing.T, pid int) (switches, ticks int64) {
	t.Helper()
	dirs, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no threads for pid %d: %v", pid, err)
	}
	for _, d := range dirs {
		status, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil {
			continue // the thread exited
		}
		for _, line := range strings.Split(string(status), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				switches += n
			}
		}
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses;
		// utime and stime are the 14th and 15th fields of the line.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return switches, ticks
}

// TestIdleServerSleeps runs the echo server in a child process with 200
// idle connections and no timer pending, and counts its wake-ups from
// outside over 10 s: context switches of all its threads and CPU ticks, as
// /proc reports them. An idle server must cost nothing. It takes 12 s.
func TestIdleServerSleeps(t *testing.T) {
	if testing.Short() {
		t.Skip("takes 12 s; run without -short")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), idleChildEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	addr = strings.TrimSpace(addr)

	// Connect and make one round trip on each connection, so that every
	// connection task has run and waits to read.
	for range 200 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // let the server settle

	pid := cmd.Process.Pid
	sw0, ticks0 := wakeups(t, pid)
	time.Sleep(10 * time.Second)
	sw1, ticks1 := wakeups(t, pid)
	t.Logf("over 10 s idle: %d context switches, %d CPU ticks", sw1-sw0, ticks1-ticks0)
	// The Go runtime may wake once or twice on its own (a background
	// scavenge after start-up); a fallback or alarm that polls would show
	// hundreds.
	if sw1-sw0 > 5 || ticks1-ticks0 > 1 {
		t.Fatalf("the idle server woke up: %d context switches and %d CPU ticks in 10 s", sw1-sw0, ticks1-ticks0)
	}
}
