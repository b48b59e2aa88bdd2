// Command uringcheck says whether the reactor may use io_uring here: it
// prints "io_uring available" and exits 0, or prints the reason
// (uring.Available's error) and exits 1. CI runs it to decide whether to
// run the test suite a second time with SMOL_BACKEND=uring:
//
//	SMOL_BACKEND=uring go run ./internal/uringcheck
package main

import (
	"fmt"
	"os"

	"github.com/smolgo/smol/internal/uring"
)

func main() {
	if err := uring.Available(); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("io_uring available")
}
