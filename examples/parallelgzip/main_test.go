package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// childEnv makes the test binary run main, as the command under test.
const childEnv = "PARALLELGZIP_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		main()
		return
	}
	os.Exit(m.Run())
}

func command(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	cmd.Dir = dir
	return cmd
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// Five files, two at a time: every one is compressed, kept, and gzip's
// report comes out prefixed with its name.
func TestGzip(t *testing.T) {
	dir := t.TempDir()
	var names []string
	for i := 0; i < 5; i++ {
		name := fmt.Sprintf("file%d.txt", i)
		data := bytes.Repeat([]byte(fmt.Sprintf("line %d of a file to compress\n", i)), 20000)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	out, err := command(dir, append([]string{"-j", "2"}, names...)...).CombinedOutput()
	if code := exitCode(t, err); code != 0 {
		t.Fatalf("exit status %d:\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	sort.Strings(lines)
	if len(lines) != 5 {
		t.Fatalf("output:\n%s", out)
	}
	for i, name := range names {
		if !strings.HasPrefix(lines[i], "["+name+"] "+name+":") || !strings.Contains(lines[i], "created "+name+".gz") {
			t.Fatalf("line %q", lines[i])
		}
		orig, _ := os.ReadFile(filepath.Join(dir, name))
		f, err := os.Open(filepath.Join(dir, name+".gz"))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr)
		f.Close()
		if err != nil || !bytes.Equal(got, orig) {
			t.Fatalf("%s.gz does not hold %s (%v)", name, name, err)
		}
	}
}

// Failures are reported per file and make the exit status 1; output lines
// keep their prefixes, partial last lines included.
func TestFailure(t *testing.T) {
	out, err := command(t.TempDir(), "-j", "3", "-sh", `printf 'out %s\nno newline' "$1"; echo err >&2; [ "$1" != b ]`, "a", "b", "c").CombinedOutput()
	if code := exitCode(t, err); code != 1 {
		t.Fatalf("exit status %d:\n%s", code, out)
	}
	for _, want := range []string{"[a] out a", "[a] no newline", "[a] err", "[b] out b", "[c] err", "[b] failed: exit status 1"} {
		if !strings.Contains(string(out), want+"\n") {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "[a] failed") {
		t.Fatalf("a reported failed:\n%s", out)
	}
}

// SIGINT while two children run and two wait: the two are killed and
// reaped, the others never start, and the exit status is 130.
func TestInterrupt(t *testing.T) {
	cmd := command(t.TempDir(), "-j", "2", "-sh", `echo "start $$"; exec sleep 30`, "a", "b", "c", "d")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(out)
	var pids []int
	for len(pids) < 2 && sc.Scan() {
		// "[a] start 1234"
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[1] != "start" {
			t.Fatalf("line %q", sc.Text())
		}
		pid, _ := strconv.Atoi(f[2])
		pids = append(pids, pid)
	}
	if len(pids) != 2 {
		t.Fatalf("children started: %v", pids)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	rest, _ := io.ReadAll(out)
	code := exitCode(t, cmd.Wait())
	if code != 130 || time.Since(start) > 10*time.Second {
		t.Fatalf("exit status %d after %v", code, time.Since(start))
	}
	if len(rest) != 0 {
		t.Fatalf("more children started after SIGINT: %q", rest)
	}
	if !strings.Contains(stderr.String(), "interrupt: killed 2 running children") {
		t.Fatalf("stderr: %q", stderr.String())
	}
	// The children are gone: killed, and reaped before the exit (so not
	// left as zombies for init to reap).
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
			t.Fatalf("child %d still exists: %s", pid, stat)
		}
	}
}

func TestUsage(t *testing.T) {
	out, err := command(t.TempDir()).CombinedOutput()
	if code := exitCode(t, err); code != 2 || !strings.Contains(string(out), "usage: parallelgzip") {
		t.Fatalf("exit status %d:\n%s", code, out)
	}
}
