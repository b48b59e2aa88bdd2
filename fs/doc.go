// Package fs is file system access for async code: the common functions of
// package os (ReadFile, WriteFile, Open, Create, OpenFile, Stat, Lstat,
// Remove, RemoveAll, Rename, Mkdir, MkdirAll, Symlink, Readlink, Chmod) as
// futures, a File whose reads, writes, seeks and syncs are futures, and
// ReadDir as a stream of batches. It is smol's async-fs for Go. (Import it
// under another name beside io/fs: smolfs "github.com/smolgo/smol/fs".)
//
//	data, err := smol.Run(ex, fs.ReadFile("config.json"))
//
// # The blocking pool
//
// Regular files cannot be polled: epoll and kqueue report them always
// ready, and a read of a file whose pages are not cached blocks the thread
// until the disk answers. So every operation here is a blocking system
// call made on the blocking pool (blocking.Unblock), and the future is woken
// when it returns: the pool's goroutines are the cost, up to
// smol.DefaultMaxBlockingThreads of them at once, each exiting after 500 ms
// idle. A File runs its operations on one pool goroutine at a time. A trip
// to the pool and back costs a few microseconds (about 5 µs a 4 KiB read
// here, without read-ahead; see below), which is why a File reads ahead.
//
// # Futures start when called
//
// Every function and method here submits its work when it is called, as
// blocking.Unblock does, not when its future is first polled. The future only
// reports the result. So the habits of package os hold: "defer
// fs.RemoveAll(dir)" removes the directory, and "f.Write(p)" as a
// statement writes, in its turn among the File's operations; only the
// result is lost. (smolvet, which reports futures dropped unawaited, still
// reports these: the error is lost.) A File's operations run in the order
// they were submitted; see File.
//
// One trap follows: Go evaluates the arguments of a deferred call when the
// defer statement runs, so "defer smol.BlockOn(fs.RemoveAll(dir))"
// removes dir at once. Write "defer func() { smol.BlockOn(fs.RemoveAll(dir)) }()",
// or "defer fs.RemoveAll(dir)" if the result is not needed.
//
// A future discarded (smol.Discard, a Timeout that ran out, a canceled
// task) before its work started withdraws it where it can (a File's queued
// operations); a future simply dropped does not, and its work runs. Work
// that has started runs to its end, since a blocking call cannot be
// interrupted, and its result is discarded. The path functions start at
// once and so always run to their end.
//
// # Errors
//
// Each future fails with the error of the os function it runs: an
// *os.PathError naming the operation and the path (an *os.LinkError for
// Rename and Symlink). An operation on a closed File fails with an
// *os.PathError whose Err is os.ErrClosed, at once. End of file is a bare
// io.EOF, as os.File's Read gives it.
//
// # Figures
//
// Measured on this project's 2-core machine, a file of 8 MiB in the page
// cache read from start to end, each read awaited before the next
// (go test -run '^$' -bench ReadSeq -count 3 ./fs):
//
//	reads of 4 KiB:  read-ahead 3,900-4,450 MB/s; without it 725-755 MB/s; os.File 1,900-2,050 MB/s
//	reads of 32 KiB: read-ahead 5,300-5,800 MB/s; without it 3,600-4,100 MB/s; os.File 7,400-9,300 MB/s
//
// so read-ahead (64 KiB) pays: 5.8x for 4 KiB reads, 1.4x for 32 KiB ones,
// nothing for reads of 64 KiB or more, which read directly. Writes of
// 4 KiB each awaited (go test -run '^$' -bench Write ./fs) run at 230-290
// MB/s against os.File's 240-285 MB/s here: the disk is the limit.
// Listing 10,000 entries (go test -run '^$' -bench ReadDir ./fs) takes
// 18-30 ms in batches of 1 (a pool trip each), 4.7-4.9 ms in batches of
// 32, 4.2-6.3 ms in batches of 256 (DefaultDirBatch) and 3.6-4.1 ms in
// batches of 4,096, against 5.9-6.1 ms for os.ReadDir (which sorts); about
// 118 bytes are allocated per entry in every case, and a stream holds one
// batch of them at a time.
//
// # Costs
//
// An operation allocates its future (about 200 bytes); data passes through
// a buffer of the File's, taken from size-class pools (4 KiB to 1 MiB), and
// is copied once more than with os (into the buffer for a write, out of
// it for a read), so that no pool goroutine touches the caller's slice
// after the future is dropped. A File that reads holds a 64 KiB
// read-ahead buffer until it is closed.
package fs
