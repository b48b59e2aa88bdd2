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
func corpus() []byte { return corpusFor("") }

// corpusFor is corpus with every key prefixed, so that sessions on one
// DB can run it side by side without touching each other's keys.
func corpusFor(prefix string) []byte {
	var b []byte
	for i := range 50 {
		k := prefix + "key" + strconv.Itoa(i%7)
		b = append(b, encode("SET", k, strings.Repeat("v", i*37))...)
		b = append(b, encode("GET", k)...)
		b = append(b, encode("INCR", prefix+"n")...)
		b = append(b, encode("MSET", prefix+"a", "1", prefix+"b", strings.Repeat("x", 3000))...)
		b = append(b, encode("MGET", prefix+"a", prefix+"b", k)...)
		b = append(b, "PING\r\nECHO \"a\\tb\" 'c'\r\n\r\n*0\r\n"...)
		b = append(b, encode("SET", prefix+"t", "v", "EX", "100")...)
		b = append(b, encode("TTL", prefix+"t")...)
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

// TestSessionsShareScratch: sessions of one DB share the parser's scratch,
// so two clients whose requests arrive in pieces, interleaved, must still
// get the replies each gets alone (a partial request keeps its own spans).
func TestSessionsShareScratch(t *testing.T) {
	lim := Limits{OutputPause: 1000}
	ins := [2][]byte{corpusFor("a:"), corpusFor("b:")}
	var want [2][]byte
	for i, in := range ins {
		want[i], _ = drive(lim, [][]byte{in})
	}
	rng := rand.New(rand.NewSource(2))
	for trial := range 20 {
		now := time.Unix(1_000_000, 0)
		db := NewDB(lim, func() time.Time { return now }, nil)
		var ss [2]*Session
		var got [2][]byte
		rest := ins
		for i := range ss {
			ss[i] = db.NewSession(&fakeClient{})
		}
		for len(rest[0])+len(rest[1]) > 0 {
			i := rng.Intn(2)
			if len(rest[i]) == 0 {
				i = 1 - i
			}
			n := min(1+rng.Intn(1+[]int{3, 40, 5000}[trial%3]), len(rest[i]))
			ss[i].Feed(rest[i][:n:n])
			rest[i] = rest[i][n:]
			for {
				o := ss[i].Output()
				got[i] = append(got[i], o...)
				ss[i].Consume(len(o))
				if !ss[i].Pending() {
					break
				}
				ss[i].Process()
			}
		}
		for i := range ss {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("trial %d: session %d's replies differ from its replies alone", trial, i)
			}
		}
	}
}

// TestPipelineDoesNotAllocate: a pipeline of 16 requests (as redis-benchmark
// -P 16 sends them), MSET of 10 keys included, runs without allocating once
// the keys exist and the scratch has grown: a server that allocated per
// request would make the garbage collector run all the time.
func TestPipelineDoesNotAllocate(t *testing.T) {
	db := NewDB(Limits{}, time.Now, nil)
	s := db.NewSession(&fakeClient{})
	scratch := make([]byte, 0, 64<<10)
	mset := []string{"MSET"}
	for i := range 10 {
		mset = append(mset, "key:"+strconv.Itoa(i), "xxx")
	}
	for _, req := range [][]byte{
		encode("SET", "key:0", "xxx"), encode("GET", "key:0"), encode("INCR", "counter"),
		encode(mset...), encode("MGET", "key:1", "key:2", "key:3"),
	} {
		batch := bytes.Repeat(req, 16)
		allocs := testing.AllocsPerRun(100, func() {
			s.UseScratch(scratch)
			s.Feed(batch)
			if len(s.Output()) == 0 {
				t.Fatal("no replies")
			}
			s.Consume(len(s.Output()))
			s.Retain()
		})
		if allocs != 0 {
			t.Errorf("16 x %.20q...: %.1f allocations per pipeline, want 0", req, allocs)
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
