package fs_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/fs"
)

// Write a file, read it back.
func Example() {
	dir, _ := os.MkdirTemp("", "fs-example")
	defer func() { smol.BlockOn(fs.RemoveAll(dir)) }()

	name := filepath.Join(dir, "greeting")
	_, err := smol.BlockOn(fs.WriteFile(name, []byte("hello, file\n"), 0o644))
	fmt.Println(err)
	data, err := smol.BlockOn(fs.ReadFile(name))
	fmt.Printf("%q %v\n", data, err)
	// Output:
	// <nil>
	// "hello, file\n" <nil>
}

// A File's operations run in the order they were submitted, whatever
// order their futures are awaited in.
func ExampleFile() {
	dir, _ := os.MkdirTemp("", "fs-example")
	defer os.RemoveAll(dir)
	f, err := smol.BlockOn(fs.Create(filepath.Join(dir, "log")))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()

	buf := make([]byte, 5)
	w := f.Write([]byte("first second"))
	s := f.SeekTo(0, io.SeekStart)
	r := f.Read(buf)
	n, err := smol.BlockOn(r) // the write and the seek ran before it
	fmt.Printf("%d %q %v\n", n, buf, err)
	smol.BlockOn(s)
	smol.BlockOn(w)
	// Output: 5 "first" <nil>
}

// A directory listed in batches.
func ExampleDir_Next() {
	dir, _ := os.MkdirTemp("", "fs-example")
	defer os.RemoveAll(dir)
	for _, name := range []string{"a", "b", "c"} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o644)
	}

	d, err := smol.BlockOn(fs.ReadDir(dir))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	total := 0
	for {
		batch, err := smol.BlockOn(d.Next(2))
		if err == io.EOF {
			break
		}
		fmt.Println("batch of", len(batch))
		total += len(batch)
	}
	fmt.Println(total, "entries")
	// Output:
	// batch of 2
	// batch of 1
	// 3 entries
}
