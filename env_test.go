package smol

import (
	"io"
	"os"
	"strings"
	"testing"
)

// captureStderr runs fn and returns what it wrote to os.Stderr.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = old }()
	fn()
	w.Close()
	b, _ := io.ReadAll(r)
	r.Close()
	return string(b)
}

func TestEnvInt(t *testing.T) {
	const name = "SMOL_MAX_BLOCKING_THREADS"
	for _, c := range []struct {
		val  string
		want int
		warn bool
	}{
		{"", DefaultMaxBlockingThreads, false},
		{"1", 1, false},
		{"64", 64, false},
		{"10000", 10000, false},
		{"10001", DefaultMaxBlockingThreads, true},
		{"0", DefaultMaxBlockingThreads, true},
		{"-3", DefaultMaxBlockingThreads, true},
		{"abc", DefaultMaxBlockingThreads, true},
		{"12x", DefaultMaxBlockingThreads, true},
		{" 8", DefaultMaxBlockingThreads, true},
		{"1e3", DefaultMaxBlockingThreads, true},
		{"99999999999999999999", DefaultMaxBlockingThreads, true},
	} {
		t.Setenv(name, c.val)
		var got int
		msg := captureStderr(t, func() { got = envInt(name, DefaultMaxBlockingThreads, 10000) })
		if got != c.want {
			t.Errorf("%s=%q: got %d, want %d", name, c.val, got, c.want)
		}
		if warned := msg != ""; warned != c.warn {
			t.Errorf("%s=%q: stderr %q, want a warning: %v", name, c.val, msg, c.warn)
		}
		if c.warn && (!strings.Contains(msg, name) || !strings.Contains(msg, c.val)) {
			t.Errorf("%s=%q: the warning %q does not name the setting and its value", name, c.val, msg)
		}
	}
}

func TestDefaultPoolSettings(t *testing.T) {
	p := defaultPool()
	want := envInt("SMOL_MAX_BLOCKING_THREADS", DefaultMaxBlockingThreads, 10000)
	if p.limit != want {
		t.Fatalf("default pool limit %d, want %d", p.limit, want)
	}
	if defaultPool() != p {
		t.Fatal("defaultPool returned a second pool")
	}
}
