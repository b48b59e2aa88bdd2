package procfs

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSelf(t *testing.T) {
	for _, pid := range []int{0, os.Getpid()} {
		rss, err := RSS(pid)
		if err != nil || rss <= 0 {
			t.Fatalf("RSS(%d) = %d, %v", pid, rss, err)
		}
		// Burn a little CPU so the counter is likely non-zero; only the
		// error and sign are checked, as the resolution is 10 ms.
		x := 0
		for i := 0; i < 1e6; i++ {
			x += i
		}
		_ = x
		cpu, err := CPUTime(pid)
		if err != nil || cpu < 0 {
			t.Fatalf("CPUTime(%d) = %v, %v", pid, cpu, err)
		}
	}
	if _, err := RSS(1 << 30); err == nil {
		t.Fatal("RSS of a missing process did not fail")
	}
}

// TestFDCount opens files and checks that the count follows exactly, for
// the calling process through both its own PID and pid 0. It opens a
// regular file, which the Go runtime never registers with its poller, so
// no descriptor of the runtime's own appears in between.
func TestFDCount(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int{0, os.Getpid()} {
		before, err := FDCount(pid)
		if err != nil || before < 3 {
			t.Fatalf("FDCount(%d) = %d, %v; want at least stdin, stdout, stderr", pid, before, err)
		}
		var files []*os.File
		for i := 0; i < 5; i++ {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		during, err := FDCount(pid)
		if err != nil || during != before+5 {
			t.Fatalf("FDCount(%d) with 5 more files = %d, %v; want %d", pid, during, err, before+5)
		}
		for _, f := range files {
			f.Close()
		}
		after, err := FDCount(pid)
		if err != nil || after != before {
			t.Fatalf("FDCount(%d) after closing them = %d, %v; want %d", pid, after, err, before)
		}
	}
	if _, err := FDCount(1 << 30); err == nil {
		t.Fatal("FDCount of a missing process did not fail")
	}
}
