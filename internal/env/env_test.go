package env

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
		{"", 500, false},
		{"1", 1, false},
		{"64", 64, false},
		{"10000", 10000, false},
		{"10001", 500, true},
		{"0", 500, true},
		{"-3", 500, true},
		{"abc", 500, true},
		{"12x", 500, true},
		{" 8", 500, true},
		{"1e3", 500, true},
		{"99999999999999999999", 500, true},
	} {
		t.Setenv(name, c.val)
		var got int
		msg := captureStderr(t, func() { got = Int(name, 500, 10000) })
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
