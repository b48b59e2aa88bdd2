package fs_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/fs"
)

// benchFile makes an 8 MiB file.
func benchFile(b *testing.B) string {
	name := filepath.Join(b.TempDir(), "data")
	if err := os.WriteFile(name, make([]byte, 8<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	return name
}

// BenchmarkReadSeq reads an 8 MiB file (in the page cache) from start to
// end in reads of 4 KiB and 32 KiB, each awaited before the next, as a
// task reading a file in a loop does: with read-ahead (the default), with
// it off, and with os.File on the calling goroutine for scale. b.SetBytes
// makes the figure MB/s.
func BenchmarkReadSeq(b *testing.B) {
	name := benchFile(b)
	for _, size := range []int{4 << 10, 32 << 10} {
		buf := make([]byte, size)
		for _, ra := range []int{64 << 10, 0} {
			b.Run(fmt.Sprintf("fs/read=%dK/readahead=%dK", size>>10, ra>>10), func(b *testing.B) {
				old := fs.SetReadAhead(ra)
				defer fs.SetReadAhead(old)
				b.SetBytes(8 << 20)
				b.ReportAllocs()
				for b.Loop() {
					f, err := smol.BlockOn(fs.Open(name))
					if err != nil {
						b.Fatal(err)
					}
					for {
						_, err := smol.BlockOn(f.Read(buf))
						if err == io.EOF {
							break
						}
						if err != nil {
							b.Fatal(err)
						}
					}
					f.Close()
				}
			})
		}
		b.Run(fmt.Sprintf("os/read=%dK", size>>10), func(b *testing.B) {
			b.SetBytes(8 << 20)
			b.ReportAllocs()
			for b.Loop() {
				f, err := os.Open(name)
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := f.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				f.Close()
			}
		})
	}
}

// BenchmarkWrite writes 8 MiB in writes of 4 KiB, each awaited, against
// os.File on the calling goroutine.
func BenchmarkWrite(b *testing.B) {
	name := filepath.Join(b.TempDir(), "out")
	buf := make([]byte, 4<<10)
	b.Run("fs", func(b *testing.B) {
		b.SetBytes(8 << 20)
		b.ReportAllocs()
		for b.Loop() {
			f, err := smol.BlockOn(fs.Create(name))
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < 2048; i++ {
				if _, err := smol.BlockOn(f.Write(buf)); err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
		}
	})
	b.Run("fs-pipelined", func(b *testing.B) {
		// All 2,048 writes submitted, then awaited: one pool trip runs
		// them back to back.
		b.SetBytes(8 << 20)
		b.ReportAllocs()
		futs := make([]smol.Future[int], 2048)
		for b.Loop() {
			f, err := smol.BlockOn(fs.Create(name))
			if err != nil {
				b.Fatal(err)
			}
			for i := range futs {
				futs[i] = f.Write(buf)
			}
			if _, err := smol.BlockOn(smol.JoinAll(futs)); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("os", func(b *testing.B) {
		b.SetBytes(8 << 20)
		b.ReportAllocs()
		for b.Loop() {
			f, err := os.Create(name)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < 2048; i++ {
				if _, err := f.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
		}
	})
}

// BenchmarkReadDir lists a directory of 10,000 entries with Dir.Next in
// batches of 1 to 4,096, and with os.ReadDir (all at once, sorted) for
// scale. The figure to read is ns/op and B/op per listing of 10,000.
func BenchmarkReadDir(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < 10000; i++ {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("entry-%05d", i)))
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	for _, batch := range []int{1, 32, 256, 4096} {
		b.Run(fmt.Sprintf("fs/batch=%d", batch), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, err := smol.BlockOn(fs.ReadDir(dir))
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for {
					es, err := smol.BlockOn(d.Next(batch))
					n += len(es)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				d.Close()
				if n != 10000 {
					b.Fatalf("%d entries", n)
				}
			}
		})
	}
	b.Run("os.ReadDir", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if es, err := os.ReadDir(dir); err != nil || len(es) != 10000 {
				b.Fatal(len(es), err)
			}
		}
	})
}
