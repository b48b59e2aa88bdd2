package fs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/fs"
	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind. The blocking
// pool's idle goroutines are the runtime's and exit 500 ms after their
// last job, which may be after the last test: they are ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/smolgo/smol/blocking.(*Pool).work"))
}

// await runs f to completion, failing the test after 30 s.
func await[T any](t testing.TB, f smol.Future[T]) (T, error) {
	t.Helper()
	v, err := smol.BlockOn(smol.Timeout(f, 30*time.Second))
	if errors.Is(err, smol.ErrTimeout) {
		t.Fatal("timed out")
	}
	return v, err
}

func must[T any](t testing.TB, f smol.Future[T]) T {
	t.Helper()
	v, err := await(t, f)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func create(t testing.TB) *fs.File {
	t.Helper()
	f := must(t, fs.Create(filepath.Join(t.TempDir(), "f")))
	t.Cleanup(func() { f.Close() })
	return f
}

func TestRoundTrip(t *testing.T) {
	f := create(t)
	data := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB
	if n := must(t, f.Write(data)); n != len(data) {
		t.Fatalf("wrote %d", n)
	}
	if pos := must(t, f.SeekTo(0, io.SeekStart)); pos != 0 {
		t.Fatalf("seek: %d", pos)
	}
	// Small reads, served mostly from the read-ahead.
	got := make([]byte, 0, len(data))
	buf := make([]byte, 1000)
	for {
		n, err := await(t, f.Read(buf))
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, not what was written", len(got))
	}
	// The position is the end, read-ahead or not.
	if pos := must(t, f.SeekTo(0, io.SeekCurrent)); pos != int64(len(data)) {
		t.Fatalf("position %d after reading all", pos)
	}
	// ReadAt and WriteAt do not move it.
	must(t, f.WriteAt([]byte("XYZ"), 10))
	p := make([]byte, 5)
	if n := must(t, f.ReadAt(p, 8)); n != 5 || string(p) != "89XYZ" {
		t.Fatalf("ReadAt: %d %q", n, p)
	}
	if _, err := await(t, f.ReadAt(make([]byte, 10), int64(len(data)-5))); err != io.EOF {
		t.Fatalf("ReadAt past the end: %v", err)
	}
	if pos := must(t, f.SeekTo(0, io.SeekCurrent)); pos != int64(len(data)) {
		t.Fatalf("position %d after ReadAt and WriteAt", pos)
	}
	must(t, f.Truncate(100))
	must(t, f.Sync())
	if fi := must(t, f.Stat()); fi.Size() != 100 {
		t.Fatalf("size %d after Truncate", fi.Size())
	}
	if n := must(t, f.WriteString("tail")); n != 4 {
		t.Fatalf("WriteString: %d", n)
	}
}

// Operations submitted together run in submission order, whatever order
// their futures are awaited in, and read-ahead never shows.
func TestSubmissionOrder(t *testing.T) {
	f := create(t)
	buf := make([]byte, 5)
	w1 := f.Write([]byte("hello world"))
	s := f.SeekTo(0, io.SeekStart)
	r := f.Read(buf) // reads ahead: the kernel position goes to 11
	w2 := f.Write([]byte("XYZ"))
	s2 := f.SeekTo(0, io.SeekCurrent)
	// Await backwards.
	if pos := must(t, s2); pos != 8 {
		t.Fatalf("position after write: %d, want 8", pos)
	}
	if n := must(t, w2); n != 3 {
		t.Fatal(n)
	}
	if n := must(t, r); n != 5 || string(buf) != "hello" {
		t.Fatalf("read %d %q", n, buf)
	}
	must(t, s)
	must(t, w1)
	if b := must(t, fs.ReadFile(f.Name())); string(b) != "helloXYZrld" {
		t.Fatalf("file holds %q", b)
	}
}

// A random mix of operations, submitted in bursts and awaited in random
// order, gives the results that os.File gives run one by one.
func TestAgainstOS(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	for round := 0; round < 40; round++ {
		af := must(t, fs.Create(filepath.Join(dir, fmt.Sprint("a", round))))
		of, err := os.Create(filepath.Join(dir, fmt.Sprint("o", round)))
		if err != nil {
			t.Fatal(err)
		}
		for burst := 0; burst < 20; burst++ {
			type pending struct {
				desc  string
				check func() string
			}
			var ps []pending
			for i := rng.IntN(8) + 1; i > 0; i-- {
				switch k := rng.IntN(7); k {
				case 0, 1: // Read
					n := []int{1, 100, 5000, 70000}[rng.IntN(4)]
					pa, po := make([]byte, n), make([]byte, n)
					fa := af.Read(pa)
					no, eo := of.Read(po)
					ps = append(ps, pending{fmt.Sprint("read ", n), func() string {
						if na, ea := await(t, fa); na != no || ea != eo || !bytes.Equal(pa, po) {
							return fmt.Sprintf("got %d %v, os %d %v", na, ea, no, eo)
						}
						return ""
					}})
				case 2: // Write
					p := make([]byte, []int{1, 300, 9000}[rng.IntN(3)])
					for j := range p {
						p[j] = byte(rng.IntN(256))
					}
					fa := af.Write(p)
					no, eo := of.Write(p)
					clear(p) // Write copied it
					ps = append(ps, pending{"write", func() string {
						if na, ea := await(t, fa); na != no || ea != nil || eo != nil {
							return fmt.Sprintf("got %d %v, os %d %v", na, ea, no, eo)
						}
						return ""
					}})
				case 3: // Seek
					off, whence := int64(rng.IntN(20000)), []int{io.SeekStart, io.SeekCurrent, io.SeekEnd}[rng.IntN(3)]
					if whence != io.SeekStart {
						off -= 10000
					}
					fa := af.SeekTo(off, whence)
					po, eo := of.Seek(off, whence)
					ps = append(ps, pending{fmt.Sprint("seek ", off, whence), func() string {
						if pa, ea := await(t, fa); pa != po || (ea == nil) != (eo == nil) {
							return fmt.Sprintf("got %d %v, os %d %v", pa, ea, po, eo)
						}
						return ""
					}})
				case 4: // ReadAt
					n, off := rng.IntN(3000)+1, int64(rng.IntN(30000))
					pa, po := make([]byte, n), make([]byte, n)
					fa := af.ReadAt(pa, off)
					no, eo := of.ReadAt(po, off)
					ps = append(ps, pending{"readat", func() string {
						if na, ea := await(t, fa); na != no || ea != eo || !bytes.Equal(pa, po) {
							return fmt.Sprintf("got %d %v, os %d %v", na, ea, no, eo)
						}
						return ""
					}})
				case 5: // WriteAt
					p := bytes.Repeat([]byte{byte(rng.IntN(256))}, rng.IntN(2000)+1)
					off := int64(rng.IntN(30000))
					fa := af.WriteAt(p, off)
					no, eo := of.WriteAt(p, off)
					ps = append(ps, pending{"writeat", func() string {
						if na, ea := await(t, fa); na != no || ea != nil || eo != nil {
							return fmt.Sprintf("got %d %v, os %d %v", na, ea, no, eo)
						}
						return ""
					}})
				case 6: // Truncate
					size := int64(rng.IntN(30000))
					fa := af.Truncate(size)
					eo := of.Truncate(size)
					ps = append(ps, pending{"truncate", func() string {
						if _, ea := await(t, fa); ea != nil || eo != nil {
							return fmt.Sprintf("got %v, os %v", ea, eo)
						}
						return ""
					}})
				}
			}
			rng.Shuffle(len(ps), func(i, j int) { ps[i], ps[j] = ps[j], ps[i] })
			for _, p := range ps {
				if msg := p.check(); msg != "" {
					t.Fatalf("round %d: %s: %s", round, p.desc, msg)
				}
			}
			pa := must(t, af.SeekTo(0, io.SeekCurrent))
			po, _ := of.Seek(0, io.SeekCurrent)
			if pa != po {
				t.Fatalf("round %d: position %d, os %d", round, pa, po)
			}
		}
		must(t, af.Sync())
		af.Close()
		of.Close()
		a := must(t, fs.ReadFile(af.Name()))
		o, _ := os.ReadFile(of.Name())
		if !bytes.Equal(a, o) {
			t.Fatalf("round %d: files differ (%d and %d bytes)", round, len(a), len(o))
		}
	}
}

// fifo opens a named pipe through fs, read and write, so that a Read on it
// blocks its File's pool goroutine until the test writes.
func fifo(t *testing.T) (*fs.File, *os.File) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(name, 0o600); err != nil {
		t.Fatal(err)
	}
	f := must(t, fs.OpenFile(name, os.O_RDWR, 0))
	w, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(); f.Close() })
	return f, w
}

// A discarded operation that has not started never runs; one that has
// started runs to its end, and its result is dropped.
func TestDiscard(t *testing.T) {
	f, w := fifo(t)
	b1, b2, b3 := make([]byte, 3), make([]byte, 3), make([]byte, 3)
	r1 := f.Read(b1) // blocks the File in read(2)
	time.Sleep(20 * time.Millisecond)
	r2 := f.Read(b2) // queued behind it
	r3 := f.Read(b3)
	smol.Discard(r1) // running: it will consume what is written first
	smol.Discard(r2) // queued: withdrawn
	w.Write([]byte("abc"))
	time.Sleep(20 * time.Millisecond)
	w.Write([]byte("def"))
	if n := must(t, r3); n != 3 || string(b3) != "def" {
		t.Fatalf("r3 read %d %q", n, b3[:n])
	}
	if string(b1) != "\x00\x00\x00" || string(b2) != "\x00\x00\x00" {
		t.Fatalf("dropped reads wrote to their buffers: %q %q", b1, b2)
	}
	// A Timeout that runs out discards too.
	_, err := smol.BlockOn(smol.Timeout(f.Read(b1), 10*time.Millisecond))
	if !errors.Is(err, smol.ErrTimeout) {
		t.Fatalf("got %v", err)
	}
	w.Write([]byte("ghi")) // taken by the read that timed out, which was running
	time.Sleep(20 * time.Millisecond)
	w.Write([]byte("jkl"))
	if n := must(t, f.Read(b3)); string(b3[:n]) != "jkl" {
		t.Fatalf("read %q", b3[:n])
	}
}

// A task waiting on a File names it in a task dump.
func TestDump(t *testing.T) {
	f, w := fifo(t)
	ex := smol.NewLocalExecutor()
	defer ex.Close()
	task := smol.SpawnOn(ex, f.Read(make([]byte, 1)))
	for ex.TryTick() {
	}
	tasks := ex.Tasks()
	if len(tasks) != 1 || tasks[0].On != "file "+f.Name() || tasks[0].Op != smol.WaitRead {
		t.Fatalf("tasks: %v", tasks)
	}
	w.Write([]byte("x"))
	if _, err := smol.Run(ex, task); err != nil {
		t.Fatal(err)
	}
}

// After Close, operations fail at once with a clear error; those
// submitted before it complete.
func TestClose(t *testing.T) {
	f := create(t)
	w := f.Write([]byte("before close"))
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n := must(t, w); n != 12 {
		t.Fatal(n)
	}
	for name, fut := range map[string]smol.Future[int]{
		"read":  f.Read(make([]byte, 5)),
		"write": f.Write([]byte("x")),
	} {
		_, err := await(t, fut)
		var pe *os.PathError
		if !errors.As(err, &pe) || !errors.Is(err, os.ErrClosed) || pe.Path != f.Name() {
			t.Fatalf("%s after close: %v", name, err)
		}
		t.Logf("%s after close: %v", name, err)
	}
	if _, err := await(t, f.Sync()); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("sync after close: %v", err)
	}
	if err := f.Close(); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
	if b := must(t, fs.ReadFile(f.Name())); string(b) != "before close" {
		t.Fatalf("file holds %q", b)
	}
}

func TestPathFunctions(t *testing.T) {
	dir := t.TempDir()
	p := func(s string) string { return filepath.Join(dir, s) }
	must(t, fs.Mkdir(p("a"), 0o755))
	must(t, fs.MkdirAll(p("a/b/c"), 0o755))
	must(t, fs.MkdirAll(p("a/b/c"), 0o755)) // exists: no error
	must(t, fs.WriteFile(p("a/b/c/f"), []byte("data"), 0o644))
	if b := must(t, fs.ReadFile(p("a/b/c/f"))); string(b) != "data" {
		t.Fatalf("ReadFile: %q", b)
	}
	must(t, fs.Symlink("b/c/f", p("a/link")))
	if dst := must(t, fs.Readlink(p("a/link"))); dst != "b/c/f" {
		t.Fatalf("Readlink: %q", dst)
	}
	if fi := must(t, fs.Stat(p("a/link"))); !fi.Mode().IsRegular() || fi.Size() != 4 {
		t.Fatalf("Stat follows the link: %v", fi.Mode())
	}
	if fi := must(t, fs.Lstat(p("a/link"))); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("Lstat: %v", fi.Mode())
	}
	must(t, fs.Chmod(p("a/b/c/f"), 0o600))
	if fi := must(t, fs.Stat(p("a/b/c/f"))); fi.Mode().Perm() != 0o600 {
		t.Fatalf("Chmod: %v", fi.Mode())
	}
	must(t, fs.Rename(p("a/b/c/f"), p("a/g")))
	if _, err := await(t, fs.Stat(p("a/b/c/f"))); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Stat after rename: %v", err)
	}
	must(t, fs.Remove(p("a/g")))
	must(t, fs.RemoveAll(p("a")))
	must(t, fs.RemoveAll(p("a"))) // gone: no error
	if _, err := os.Stat(p("a")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("RemoveAll left %v", err)
	}
	f := must(t, fs.OpenFile(p("x"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640))
	must(t, f.Write([]byte("1")))
	must(t, f.Chmod(0o600))
	f.Close()
	f = must(t, fs.OpenFile(p("x"), os.O_WRONLY|os.O_APPEND, 0))
	must(t, f.Write([]byte("2")))
	f.Close()
	if b := must(t, fs.ReadFile(p("x"))); string(b) != "12" {
		t.Fatalf("append: %q", b)
	}
}

// Bad input fails with the *os.PathError os gives.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	check := func(what string, err error, op string, target error) {
		t.Helper()
		var pe *os.PathError
		if !errors.As(err, &pe) || (op != "" && pe.Op != op) || !errors.Is(err, target) {
			t.Fatalf("%s: %v (%T)", what, err, err)
		}
		t.Logf("%s: %v", what, err)
	}
	_, err := await(t, fs.Open(missing))
	check("Open", err, "open", os.ErrNotExist)
	_, err = await(t, fs.ReadFile(missing))
	check("ReadFile", err, "open", os.ErrNotExist)
	_, err = await(t, fs.ReadDir(missing))
	check("ReadDir", err, "open", os.ErrNotExist)
	_, err = await(t, fs.Remove(missing))
	check("Remove", err, "remove", os.ErrNotExist)
	_, err = await(t, fs.Mkdir(dir, 0o755))
	check("Mkdir", err, "mkdir", os.ErrExist)
	_, err = await(t, fs.OpenFile(dir, os.O_WRONLY, 0))
	check("OpenFile of a directory for writing", err, "open", syscall.EISDIR)
	_, err = await(t, fs.Readlink(dir))
	check("Readlink of a directory", err, "readlink", syscall.EINVAL)
	// A file read as a directory.
	must(t, fs.WriteFile(missing, nil, 0o644))
	d := must(t, fs.ReadDir(missing))
	_, err = await(t, d.Next(10))
	check("Next on a file", err, "", syscall.ENOTDIR)
	d.Close()
	// A read-only file written.
	f := must(t, fs.Open(missing))
	_, err = await(t, f.Write([]byte("x")))
	check("Write to a read-only file", err, "write", syscall.EBADF)
	_, err = await(t, f.SeekTo(-1, io.SeekStart))
	check("Seek before the start", err, "seek", syscall.EINVAL)
	f.Close()
}

// A directory of 10,000 entries is read as a stream, in bounded batches.
func TestReadDirStream(t *testing.T) {
	dir := t.TempDir()
	const n = 10000
	for i := 0; i < n; i++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("entry-%05d", i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	d := must(t, fs.ReadDir(dir))
	defer d.Close()
	seen := make(map[string]bool, n)
	batches := 0
	for {
		batch, err := await(t, d.Next(100))
		if err == io.EOF {
			if len(batch) != 0 {
				t.Fatalf("EOF with %d entries", len(batch))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 || len(batch) > 100 {
			t.Fatalf("batch of %d", len(batch))
		}
		batches++
		for _, e := range batch {
			if seen[e.Name()] {
				t.Fatalf("%s twice", e.Name())
			}
			seen[e.Name()] = true
		}
	}
	if len(seen) != n || batches != n/100 {
		t.Fatalf("%d entries in %d batches", len(seen), batches)
	}
	names := make([]string, 0, n)
	for name := range seen {
		names = append(names, name)
	}
	sort.Strings(names)
	if names[0] != "entry-00000" || names[n-1] != "entry-09999" {
		t.Fatalf("names %s .. %s", names[0], names[n-1])
	}
	if _, err := await(t, d.Next(0)); err != io.EOF {
		t.Fatalf("Next after the end: %v", err)
	}
}

// IO gives goroutine code io.Reader, io.Writer and friends.
func TestIO(t *testing.T) {
	f := create(t)
	w := f.IO()
	if _, err := io.Copy(w, bytes.NewReader(bytes.Repeat([]byte("abc"), 100000))); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if n, err := io.Copy(&out, w); err != nil || n != 300000 {
		t.Fatalf("copied %d, %v", n, err)
	}
	if !bytes.Equal(out.Bytes(), bytes.Repeat([]byte("abc"), 100000)) {
		t.Fatal("read back differs")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}
