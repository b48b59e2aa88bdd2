package smolnet_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/smolnet"
)

// TestTaskDump: a task dump says what each socket task waits for and on
// which socket: a listener task waiting to accept, and two connection
// tasks waiting to read, each named by its addresses.
func TestTaskDump(t *testing.T) {
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	ln := listen(t)
	_, s1 := connPair(t, ln)
	_, s2 := connPair(t, ln)

	acc := smol.SpawnOn(ex, ln.Accept())
	r1 := smol.SpawnOn(ex, s1.Read(make([]byte, 1)))
	r2 := smol.SpawnOn(ex, s2.Read(make([]byte, 1)))
	defer func() {
		for _, c := range []interface{ Cancel() }{acc, r1, r2} {
			c.Cancel()
		}
	}()
	for ex.TryTick() {
	}

	conn := func(c *smolnet.TCPConn) string {
		return "tcp " + c.LocalAddrPort().String() + " <- " + c.RemoteAddrPort().String()
	}
	want := map[string]smol.WaitOp{
		"tcp listener " + ln.AddrPort().String(): smol.WaitAccept,
		conn(s1):                                 smol.WaitRead,
		conn(s2):                                 smol.WaitRead,
	}
	if s1.String() != conn(s1) || ln.String() != "tcp listener "+ln.AddrPort().String() {
		t.Errorf("String: conn %q, listener %q", s1.String(), ln.String())
	}
	tasks := withoutPump(ex.Tasks())
	if len(tasks) != len(want) {
		t.Fatalf("%d tasks in the dump, want %d: %v", len(tasks), len(want), tasks)
	}
	for _, ti := range tasks {
		op, ok := want[ti.On]
		switch {
		case !ok:
			t.Errorf("task %d waits on %q, not one of %v", ti.ID, ti.On, want)
		case ti.Op != op || ti.State != smol.TaskWaiting:
			t.Errorf("task %d on %q: %v, %v; want waiting, %v", ti.ID, ti.On, ti.State, ti.Op, op)
		}
		delete(want, ti.On)
	}

	var b strings.Builder
	if err := ex.DumpTasks(&b); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{": accept tcp listener 127.0.0.1:", ": read " + conn(s1), ": read " + conn(s2)} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("dump lacks %q:\n%s", line, b.String())
		}
	}
}

// TestSocketString: every socket type describes itself for dumps, and a
// task waiting on a datagram socket names it too.
func TestSocketString(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	uln, err := smolnet.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	defer uln.Close()
	accepted := goBlockOn(uln.Accept())
	uc, err := smol.BlockOn(smolnet.DialUnix(path))
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	a := <-accepted
	if a.err != nil {
		t.Fatal(a.err)
	}
	defer a.v.Close()

	u, err := smolnet.ListenUDP("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	du, err := smolnet.DialUDP("udp", u.LocalAddrPort().String())
	if err != nil {
		t.Fatal(err)
	}
	defer du.Close()
	gram := filepath.Join(dir, "g.sock")
	ug, err := smolnet.ListenUnixgram(gram)
	if err != nil {
		t.Fatal(err)
	}
	defer ug.Close()

	for _, c := range []struct {
		s    interface{ String() string }
		want string
	}{
		{uln, "unix listener " + path},
		{a.v, "unix " + path},   // the client is unbound
		{uc, "unix <- " + path}, // so is this end
		{u, "udp4 " + u.LocalAddrPort().String()},
		{du, "udp " + du.LocalAddrPort().String() + " <- " + u.LocalAddrPort().String()},
		{ug, "unixgram " + gram},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}

	ex := smol.NewLocalExecutor()
	defer ex.Close()
	r := smol.SpawnOn(ex, u.ReadFrom(make([]byte, 1)))
	defer r.Cancel()
	for ex.TryTick() {
	}
	tasks := ex.Tasks()
	if len(tasks) != 1 || tasks[0].Op != smol.WaitRead || tasks[0].On != u.String() {
		t.Errorf("dump of a UDP reader: %v, want one task: read %s", tasks, u.String())
	}
}

// withoutPump leaves out the task that drives a LocalExecutor's io_uring
// ring on the completion path (SMOL_BACKEND=uring-completion).
func withoutPump(tasks []smol.TaskInfo) []smol.TaskInfo {
	out := tasks[:0]
	for _, ti := range tasks {
		if ti.On != "smolnet io_uring pump" {
			out = append(out, ti)
		}
	}
	return out
}
