package process_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/process"
	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: the reaper and
// package signal's dispatcher exit once they have nothing to do.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// modes runs f with pidfds (on Linux) and with SIGCHLD.
func modes(t *testing.T, f func(t *testing.T)) {
	t.Run("pidfd", func(t *testing.T) {
		process.UsePidfd(true)
		f(t)
	})
	t.Run("sigchld", func(t *testing.T) {
		process.UsePidfd(false)
		defer process.UsePidfd(true)
		f(t)
	})
}

func spawn(t *testing.T, c *process.Cmd) *process.Child {
	t.Helper()
	child, err := c.Spawn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Close() })
	return child
}

// await runs f to completion, failing the test after 30 s.
func await[T any](t *testing.T, f smol.Future[T]) (T, error) {
	t.Helper()
	v, err := smol.BlockOn(smol.Timeout(f, 30*time.Second))
	if errors.Is(err, smol.ErrTimeout) {
		t.Fatal("timed out")
	}
	return v, err
}

// A child reads 10 MiB on stdin while it writes them to stdout: with both
// pipes driven by tasks, neither side blocks the other.
func TestCatBothWays(t *testing.T) {
	modes(t, func(t *testing.T) {
		cmd := process.Command("cat")
		cmd.Stdin, cmd.Stdout = process.Piped(), process.Piped()
		child := spawn(t, cmd)
		data := make([]byte, 10<<20)
		for i := range data {
			data[i] = byte(i*131 + i>>16)
		}
		ex := smol.NewExecutor()
		ex.Start(2)
		defer ex.Shutdown()
		w := smol.SpawnOn(ex, smol.Map(child.Stdin.WriteAll(data), func(n int) int {
			child.Stdin.Close()
			return n
		}))
		r := smol.SpawnOn(ex, child.Stdout.ReadAll())
		got, err := await(t, r)
		if err != nil {
			t.Fatal(err)
		}
		if n, err := await(t, w); err != nil || n != len(data) {
			t.Fatalf("write: %d, %v", n, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("read %d bytes, not what was written", len(got))
		}
		st, err := await[process.ExitStatus](t, child.Status())
		if err != nil || !st.Success() {
			t.Fatalf("status %v, %v", st, err)
		}
	})
}

// 200 short-lived children, some awaited, some closed unawaited, some
// dropped: none is left a zombie.
func TestNoZombies(t *testing.T) {
	modes(t, func(t *testing.T) {
		ex := smol.NewExecutor()
		ex.Start(2)
		defer ex.Shutdown()
		var tasks []*smol.Task[process.ExitStatus]
		for i := 0; i < 200; i++ {
			child, err := process.Command("true").Spawn()
			if err != nil {
				t.Fatal(err)
			}
			switch i % 4 {
			case 0, 1: // awaited
				tasks = append(tasks, smol.SpawnOn(ex, smol.Map[process.ExitStatus](child.Status(), func(st process.ExitStatus) process.ExitStatus {
					child.Close()
					return st
				})))
			case 2: // closed at once: the reaper reaps it
				child.Close()
			case 3: // dropped: the garbage collector closes it
			}
		}
		for _, task := range tasks {
			if st, err := await(t, task); err != nil || !st.Success() {
				t.Fatalf("status %v, %v", st, err)
			}
		}
		runtime.GC()
		waitNoZombies(t)
	})
}

// zombies lists the zombie children of this process, from /proc.
func zombies(t *testing.T) []int {
	t.Helper()
	paths, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	me := strconv.Itoa(os.Getpid())
	var zs []int
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // gone
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) >= 2 && f[0] == "Z" && f[1] == me {
			pid, _ := strconv.Atoi(strings.Fields(s)[0])
			zs = append(zs, pid)
		}
	}
	return zs
}

// waitNoZombies waits for the reaper to reap what it was handed.
func waitNoZombies(t *testing.T) {
	t.Helper()
	if runtime.GOOS != "linux" {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		zs := zombies(t)
		if len(zs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("zombie children: %v", zs)
		}
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// Kill ends a sleeping child, and its status says so.
func TestKill(t *testing.T) {
	modes(t, func(t *testing.T) {
		child := spawn(t, process.Command("sleep", "100"))
		if _, ok, _ := child.TryStatus(); ok {
			t.Fatal("TryStatus: exited already")
		}
		if err := child.Kill(); err != nil {
			t.Fatal(err)
		}
		st, err := await[process.ExitStatus](t, child.Status())
		if err != nil {
			t.Fatal(err)
		}
		if st.Signal() != syscall.SIGKILL || st.ExitCode() != -1 || st.Success() || st.String() != "signal: killed" {
			t.Fatalf("status %v (signal %v, code %d)", st, st.Signal(), st.ExitCode())
		}
		var ee *process.ExitError
		if !errors.As(st.Err(), &ee) || ee.ExitCode() != -1 {
			t.Fatalf("Err() = %v", st.Err())
		}
		// Once reaped, signals report the process done.
		if err := child.Kill(); !errors.Is(err, os.ErrProcessDone) {
			t.Fatalf("Kill after exit: %v", err)
		}
	})
}

func TestSignal(t *testing.T) {
	modes(t, func(t *testing.T) {
		child := spawn(t, process.Command("sleep", "100"))
		if err := child.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		st, err := await[process.ExitStatus](t, child.Status())
		if err != nil || st.Signal() != syscall.SIGTERM || st.String() != "signal: terminated" {
			t.Fatalf("status %v, %v", st, err)
		}
	})
}

// Exit codes, and Output's collection of stdout and stderr.
func TestOutput(t *testing.T) {
	modes(t, func(t *testing.T) {
		out, err := await(t, process.Command("sh", "-c", "echo out; echo err >&2; exit 3").Output())
		var ee *process.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("err %v, want an ExitError", err)
		}
		if ee.ExitCode() != 3 || ee.Error() != "exit status 3" || string(ee.Stderr) != "err\n" || string(out) != "out\n" {
			t.Fatalf("out %q, err %v, stderr %q", out, ee, ee.Stderr)
		}
		out, err = await(t, process.Command("sh", "-c", "echo out; echo err >&2").CombinedOutput())
		if err != nil || string(out) != "out\nerr\n" {
			t.Fatalf("combined: %q, %v", out, err)
		}
		st, err := await(t, process.Command("sh", "-c", "exit 7").Status())
		if err != nil || st.ExitCode() != 7 || st.Success() {
			t.Fatalf("status %v, %v", st, err)
		}
		c := process.Command("cat")
		c.Stdout = process.Piped()
		if _, err := await(t, c.Output()); err == nil {
			t.Fatal("Output with Stdout set succeeded")
		}
	})
}

// Readers and writers that are not files are copied by the futures that
// wait, with no goroutine.
func TestFromTo(t *testing.T) {
	modes(t, func(t *testing.T) {
		in := strings.Repeat("line of input\n", 50000)
		var out, errb bytes.Buffer
		c := process.Command("sh", "-c", "cat; echo done >&2")
		c.Stdin, c.Stdout, c.Stderr = process.From(strings.NewReader(in)), process.To(&out), process.To(&errb)
		child := spawn(t, c)
		if child.Stdin != nil || child.Stdout != nil || child.Stderr != nil {
			t.Fatal("pipes exposed for From and To")
		}
		st, err := await[process.ExitStatus](t, child.Status())
		if err != nil || !st.Success() {
			t.Fatalf("status %v, %v", st, err)
		}
		if out.String() != in || errb.String() != "done\n" {
			t.Fatalf("out %d bytes (want %d), stderr %q", out.Len(), len(in), errb.String())
		}
		// An *os.File is handed to the child as is.
		f, err := os.Create(filepath.Join(t.TempDir(), "out"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		c = process.Command("echo", "to a file")
		c.Stdout = process.To(f)
		if st, err := await(t, c.Status()); err != nil || !st.Success() {
			t.Fatalf("status %v, %v", st, err)
		}
		if b, _ := os.ReadFile(f.Name()); string(b) != "to a file\n" {
			t.Fatalf("file holds %q", b)
		}
	})
}

// Args, Env and Dir reach the child.
func TestArgsEnvDir(t *testing.T) {
	dir := t.TempDir()
	c := process.Command("sh", "-c", `printf '%s|%s|%s' "$1" "$FOO" "$(pwd)"`, "sh", "an arg")
	c.Env = []string{"FOO=bar", "PATH=" + os.Getenv("PATH")}
	c.Dir = dir
	out, err := await(t, c.Output())
	if err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(dir)
	if string(out) != "an arg|bar|"+real && string(out) != "an arg|bar|"+dir {
		t.Fatalf("got %q", out)
	}
	if s := c.String(); !strings.HasSuffix(s, "sh -c printf '%s|%s|%s' \"$1\" \"$FOO\" \"$(pwd)\" sh an arg") {
		t.Fatalf("String() = %q", s)
	}
}

// Bad input fails at once with a clear error.
func TestBadInput(t *testing.T) {
	_, err := process.Command("no-such-program-here").Spawn()
	if !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("missing program: %v", err)
	}
	t.Log(err)
	if _, err := await(t, process.Command("no-such-program-here").Output()); !errors.Is(err, exec.ErrNotFound) {
		t.Fatalf("Output of a missing program: %v", err)
	}
	_, err = process.Command("/no/such/program").Spawn()
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Op != "fork/exec" || !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("missing path: %v", err)
	}
	t.Log(err)
	c := process.Command("true")
	c.Dir = "/no/such/dir"
	_, err = c.Spawn()
	if !errors.As(err, &pe) || pe.Op != "chdir" || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("bad dir: %v", err)
	}
	t.Log(err)
	c = process.Command("true")
	c.Stdout = process.From(strings.NewReader(""))
	if _, err := c.Spawn(); err == nil {
		t.Fatal("From as stdout accepted")
	}
	if _, err := (&process.Cmd{}).Spawn(); err == nil {
		t.Fatal("empty command accepted")
	}
}

// Pipes fail cleanly once closed, and a write to a child that is gone
// fails with EPIPE.
func TestPipeErrors(t *testing.T) {
	c := process.Command("sh", "-c", "exec 0<&-; echo x")
	c.Stdin, c.Stdout = process.Piped(), process.Piped()
	child := spawn(t, c)
	if _, err := await(t, child.Stdout.ReadAll()); err != nil {
		t.Fatal(err)
	}
	if _, err := await[process.ExitStatus](t, child.Status()); err != nil {
		t.Fatal(err)
	}
	_, err := await(t, child.Stdin.WriteAll([]byte("nobody reads this")))
	if !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("write to a gone child: %v", err)
	}
	t.Log(err)
	child.Stdout.Close()
	buf := make([]byte, 10)
	_, err = await(t, child.Stdout.Read(buf))
	if !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	t.Log(err)
	if err := child.Stdout.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	if err := child.Close(); err != nil {
		t.Fatal(err)
	}
	if err := child.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second Child.Close: %v", err)
	}
}

// KillOnClose kills a child that is still running; the reaper reaps it.
func TestKillOnClose(t *testing.T) {
	modes(t, func(t *testing.T) {
		c := process.Command("sleep", "100")
		c.KillOnClose = true
		child, err := c.Spawn()
		if err != nil {
			t.Fatal(err)
		}
		child.Close()
		st, err := await[process.ExitStatus](t, child.Status())
		if err != nil || st.Signal() != syscall.SIGKILL {
			t.Fatalf("status %v, %v", st, err)
		}
		// Closed without KillOnClose, a child keeps running, and is
		// reaped when it exits.
		child, err = process.Command("sleep", "0.1").Spawn()
		if err != nil {
			t.Fatal(err)
		}
		child.Close()
		time.Sleep(150 * time.Millisecond)
		waitNoZombies(t)
	})
}

// A task waiting for a child names it in a task dump; the pipes too.
func TestDump(t *testing.T) {
	modes(t, func(t *testing.T) {
		c := process.Command("sleep", "100")
		c.Stdout = process.Piped()
		c.KillOnClose = true
		child := spawn(t, c)
		ex := smol.NewLocalExecutor()
		defer ex.Close()
		smol.SpawnOn(ex, child.Status()).Detach()
		smol.SpawnOn(ex, child.Stdout.ReadAll()).Detach()
		for ex.TryTick() {
		}
		tasks := ex.Tasks()
		got := map[string]smol.WaitOp{}
		for _, ti := range tasks {
			got[ti.On] = ti.Op
		}
		if op, ok := got[child.String()]; len(tasks) != 2 || !ok || op != smol.WaitOther {
			t.Fatalf("tasks %v", tasks)
		}
		if op, ok := got["stdout of "+child.String()]; !ok || op != smol.WaitRead {
			t.Fatalf("tasks %v", tasks)
		}
		if !strings.HasPrefix(child.String(), "process "+strconv.Itoa(child.Pid())+" (sleep)") {
			t.Fatalf("String() = %q", child.String())
		}
	})
}

// A dropped status wait leaves the child alone; a new one still works.
func TestDiscardStatus(t *testing.T) {
	modes(t, func(t *testing.T) {
		child := spawn(t, process.Command("sleep", "0.05"))
		_, err := smol.BlockOn(smol.Timeout[process.ExitStatus](child.Status(), time.Millisecond))
		if !errors.Is(err, smol.ErrTimeout) {
			t.Fatalf("got %v", err)
		}
		st, err := await[process.ExitStatus](t, child.Status())
		if err != nil || !st.Success() {
			t.Fatalf("status %v, %v", st, err)
		}
	})
}

// Children are spawned with a pidfd on Linux, without one when told.
func TestPidfdUsed(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pidfds are Linux's")
	}
	child := spawn(t, process.Command("true"))
	if !process.HasPidfd(child) {
		t.Fatal("no pidfd")
	}
	process.UsePidfd(false)
	defer process.UsePidfd(true)
	child = spawn(t, process.Command("true"))
	if process.HasPidfd(child) {
		t.Fatal("pidfd despite UsePidfd(false)")
	}
}

// Waiting for children and reading their pipes costs no goroutine per
// child: 50 children waited on and read from by 100 tasks on one
// LocalExecutor add at most the package's fixed goroutines (package
// signal's dispatcher in the SIGCHLD mode).
func TestNoGoroutinePerChild(t *testing.T) {
	modes(t, func(t *testing.T) {
		ex := smol.NewLocalExecutor()
		defer ex.Close()
		before := runtime.NumGoroutine()
		var children []*process.Child
		for i := 0; i < 50; i++ {
			c := process.Command("sleep", "100")
			c.Stdout = process.Piped()
			c.KillOnClose = true
			child := spawn(t, c)
			children = append(children, child)
			smol.SpawnOn(ex, child.Status()).Detach()
			smol.SpawnOn(ex, child.Stdout.ReadAll()).Detach()
		}
		for ex.TryTick() {
		}
		if n := len(ex.Tasks()); n != 100 {
			t.Fatalf("%d tasks waiting, want 100", n)
		}
		after := runtime.NumGoroutine()
		t.Logf("goroutines: %d before, %d with 50 children waited on", before, after)
		if after-before > 2 {
			t.Fatalf("goroutines grew from %d to %d", before, after)
		}
		t0 := time.Now()
		for _, c := range children {
			c.Kill()
		}
		for _, c := range children {
			if st, err := await[process.ExitStatus](t, c.Status()); err != nil || st.Signal() != syscall.SIGKILL {
				t.Fatalf("status %v, %v", st, err)
			}
		}
		t.Log("reaped in", time.Since(t0))
	})
}
