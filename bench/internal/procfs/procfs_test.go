package procfs

import (
	"os"
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
