package echoserver

import (
	"bufio"
	"encoding/json"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestControl speaks the control protocol to serveControl: "rss", "stats"
// (whose goroutine count must follow goroutines started in between),
// and an unknown command.
func TestControl(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveControl(ln)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	ask := func(cmd string) string {
		t.Helper()
		if _, err := c.Write([]byte(cmd + "\n")); err != nil {
			t.Fatal(err)
		}
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		return strings.TrimSuffix(line, "\n")
	}
	stats := func() Stats {
		t.Helper()
		line := ask("stats")
		js, ok := strings.CutPrefix(line, "stats ")
		if !ok {
			t.Fatalf("stats answered %q", line)
		}
		var s Stats
		if err := json.Unmarshal([]byte(js), &s); err != nil {
			t.Fatalf("stats answered %q: %v", line, err)
		}
		return s
	}

	line := ask("rss")
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "rss" {
		t.Fatalf("rss answered %q", line)
	}
	if n, err := strconv.ParseInt(f[1], 10, 64); err != nil || n <= 0 {
		t.Fatalf("rss answered %q", line)
	}

	s0 := stats()
	if s0.Goroutines < 2 || s0.RSS <= 0 || s0.HeapSys == 0 || s0.Sys < s0.HeapSys {
		t.Fatalf("implausible stats %+v", s0)
	}
	// Ten more goroutines, parked until the end of the test.
	stop := make(chan struct{})
	defer close(stop)
	for i := 0; i < 10; i++ {
		go func() { <-stop }()
	}
	if s1 := stats(); s1.Goroutines != s0.Goroutines+10 {
		t.Fatalf("goroutines %d after starting 10 more, want %d", s1.Goroutines, s0.Goroutines+10)
	}

	if line := ask("nonsense"); !strings.HasPrefix(line, "error ") {
		t.Fatalf("an unknown command answered %q", line)
	}
}
