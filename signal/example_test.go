package signal_test

import (
	"fmt"
	"os"
	"syscall"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/signal"
)

// A program waits for SIGTERM (here it sends one to itself).
func Example() {
	sigs, err := signal.Notify(syscall.SIGINT, syscall.SIGTERM)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sigs.Close()

	syscall.Kill(os.Getpid(), syscall.SIGTERM)

	sig, err := smol.BlockOn(sigs.Recv())
	fmt.Println(sig, err)
	// Output: terminated <nil>
}
