package fs

import (
	"os"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/blocking"
)

// DefaultDirBatch is how many entries Dir.Next returns at most when asked
// for n <= 0.
const DefaultDirBatch = 256

// Dir is an open directory read as a stream of batches of entries, so that
// a directory of any size is listed in bounded memory: each Next reads at
// most n entries (getdents into os's 8 KiB buffer, on the blocking pool).
// Entries come in the order the file system gives them, unsorted, unlike
// os.ReadDir. Its operations are queued and run in order as a File's are.
type Dir struct{ f *File }

// ReadDir returns a future of the named directory opened as a Dir stream.
// Read it with Next until Next fails with io.EOF, then Close it.
func ReadDir(name string) smol.Future[*Dir] {
	return blocking.Unblock(func() (*Dir, error) {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		return &Dir{NewFile(f)}, nil
	})
}

// Next returns a future of the next batch of at most n entries
// (DefaultDirBatch if n <= 0), as os.File's ReadDir(n): at the end of the
// directory it fails with io.EOF and no entries; a failure while reading
// is an *os.PathError, with the entries read before it. Each entry's Info
// method makes an lstat system call on the calling goroutine, as os's
// does; await Lstat instead from a task that must not block.
func (d *Dir) Next(n int) smol.Future[[]os.DirEntry] {
	if n <= 0 {
		n = DefaultDirBatch
	}
	o := &op{f: d.f, kind: opReadDir, off: int64(n)}
	d.f.submit(o)
	return entriesOp{o}
}

// Close closes the directory, as File.Close does.
func (d *Dir) Close() error { return d.f.Close() }

// Name returns the directory's name as given to ReadDir.
func (d *Dir) Name() string { return d.f.name }

// String describes the directory for task dumps: "dir /tmp/x".
func (d *Dir) String() string { return "dir " + d.f.name }
