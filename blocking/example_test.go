package blocking_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/smolgo/smol"
	"github.com/smolgo/smol/blocking"
)

func ExampleUnblock() {
	// A blocking call runs on the blocking pool; the future is awaited like
	// any other.
	f := blocking.Unblock(func() (string, error) {
		b, err := os.ReadFile("/proc/self/stat")
		if err != nil {
			return "", err
		}
		return strings.Fields(string(b))[1], nil // the command name, in parentheses
	})
	name, err := smol.BlockOn(f)
	fmt.Println(strings.HasPrefix(name, "("), err)
	// Output: true <nil>
}
