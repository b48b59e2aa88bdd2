package core

import (
	"bytes"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"
)

type fakeClient struct{ notified int }

func (c *fakeClient) Notify()        { c.notified++ }
func (c *fakeClient) String() string { return "fake" }

// drive feeds the chunks to a fresh session on a fresh DB at a fixed time
// and returns everything it wrote, as an engine would, and whether the
// session asked to be closed.
func drive(lim Limits, chunks [][]byte) (out []byte, closing bool) {
	now := time.Unix(1_000_000, 0)
	db := NewDB(lim, func() time.Time { return now }, nil)
	s := db.NewSession(&fakeClient{})
	take := func() {
		for {
			o := s.Output()
			out = append(out, o...)
			s.Consume(len(o))
			if !s.Pending() {
				return
			}
			s.Process()
		}
	}
	for _, c := range chunks {
		s.Feed(c)
		take()
	}
	return out, s.Closing() || s.Killed()
}

func encode(args ...string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"...)
	}
	return b
}

// corpus is a pipeline of valid requests of every shape.
func corpus() []byte {
	var b []byte
	for i := range 50 {
		k := "key" + strconv.Itoa(i%7)
		b = append(b, encode("SET", k, strings.Repeat("v", i*37))...)
		b = append(b, encode("GET", k)...)
		b = append(b, encode("INCR", "n")...)
		b = append(b, encode("MSET", "a", "1", "b", strings.Repeat("x", 3000))...)
		b = append(b, encode("MGET", "a", "b", k)...)
		b = append(b, "PING\r\nECHO \"a\\tb\" 'c'\r\n\r\n*0\r\n"...)
		b = append(b, encode("SET", "t", "v", "EX", "100")...)
		b = append(b, encode("TTL", "t")...)
		b = append(b, encode("nosuch", "arg")...)
		b = append(b, encode("GET")...)
	}
	return b
}

// TestSplitIndependence feeds the same pipeline whole and in random
// pieces, down to single bytes, with a small output pause so that
// back-pressure holds requests back: the replies are the same bytes.
func TestSplitIndependence(t *testing.T) {
	in := corpus()
	lim := Limits{OutputPause: 1000}
	want, _ := drive(lim, [][]byte{in})
	if !bytes.Contains(want, []byte("-ERR unknown command 'nosuch'")) || bytes.Count(want, []byte("+OK\r\n")) != 150 {
		t.Fatalf("unexpected replies to the corpus: %q...", want[:200])
	}
	rng := rand.New(rand.NewSource(1))
	for trial := range 30 {
		var chunks [][]byte
		for rest := in; len(rest) > 0; {
			n := 1 + rng.Intn(1+[]int{1, 10, 1000, 100000}[trial%4])
			n = min(n, len(rest))
			chunks = append(chunks, rest[:n:n])
			rest = rest[n:]
		}
		got, _ := drive(lim, chunks)
		if !bytes.Equal(got, want) {
			t.Fatalf("trial %d (%d chunks): replies differ from feeding the pipeline whole", trial, len(chunks))
		}
	}
}

// FuzzSession feeds arbitrary bytes, whole and split in two: no panic,
// and the same replies unless a size limit's check came out differently
// (redis-server's limits on unterminated lines depend on the reads too).
func FuzzSession(f *testing.F) {
	f.Add(corpus()[:2000], 7)
	f.Add([]byte("*2\r\n$3\r\nGET\r\n$-5\r\n"), 3)
	f.Add([]byte("*1\r\n$4\r\nPING\r\n*abc\r\n"), 10)
	f.Add([]byte("SET \"a\\x41\" 'b\\'c'\r\nGET a\r\n"), 5)
	f.Add([]byte("\x00\xff\r\n*-1\r\n*3\r\n$3\r\nSET\r\n$1\r\nk"), 20)
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		lim := Limits{MaxInlineLen: 64, MaxBulkLen: 100, OutputPause: 100}
		whole, _ := drive(lim, [][]byte{in})
		if cut < 0 {
			cut = -cut
		}
		cut %= len(in) + 1
		split, _ := drive(lim, [][]byte{in[:cut], in[cut:]})
		if !bytes.Equal(whole, split) && !bytes.Contains(whole, []byte("too big")) && !bytes.Contains(split, []byte("too big")) {
			t.Fatalf("whole %q\nsplit at %d %q", whole, cut, split)
		}
	})
}

func TestParseInt(t *testing.T) {
	for s, want := range map[string]int64{"0": 0, "1": 1, "-1": -1, "9223372036854775807": 1<<63 - 1, "-9223372036854775808": -1 << 63} {
		if v, ok := parseInt([]byte(s)); !ok || v != want {
			t.Errorf("parseInt(%q) = %d, %v", s, v, ok)
		}
	}
	for _, s := range []string{"", "-", "+1", "01", "-0", "1 ", " 1", "9223372036854775808", "-9223372036854775809", "99999999999999999999", "1a"} {
		if v, ok := parseInt([]byte(s)); ok {
			t.Errorf("parseInt(%q) = %d, want an error", s, v)
		}
	}
}

// TestQueryBufferLimit: a request that grows past MaxQueryBuffer gets its
// client killed, with a log line.
func TestQueryBufferLimit(t *testing.T) {
	var logged []string
	db := NewDB(Limits{MaxQueryBuffer: 10000, MaxBulkLen: 1 << 20}, time.Now, func(f string, a ...any) { logged = append(logged, f) })
	s := db.NewSession(&fakeClient{})
	s.Feed([]byte("*2\r\n$3\r\nGET\r\n$100000\r\n"))
	for i := 0; i < 20 && !s.Killed(); i++ {
		s.Feed(bytes.Repeat([]byte("x"), 1000))
	}
	if !s.Killed() || len(logged) != 1 {
		t.Fatalf("killed %v, log %q", s.Killed(), logged)
	}
}

// TestIdleSessionHoldsNoBuffers: after a partial request completes and its
// reply is written, the session keeps no input or output buffer.
func TestIdleSessionHoldsNoBuffers(t *testing.T) {
	db := NewDB(Limits{}, time.Now, nil)
	s := db.NewSession(&fakeClient{})
	scratch := make([]byte, 0, 1<<16)
	s.UseScratch(scratch)
	s.Feed([]byte("*2\r\n$3\r\nGET\r\n$1"))
	s.Feed([]byte("\r\nk\r\n"))
	s.Consume(len(s.Output()))
	s.Retain()
	if s.in != nil || s.out != nil || !s.Idle() {
		t.Errorf("idle session holds in %d/%d bytes, out %d/%d", len(s.in), cap(s.in), len(s.out), cap(s.out))
	}
}
