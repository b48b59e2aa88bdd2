package smolnet_test

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// emfileChildEnv, when set, makes the test binary run as the server
// process of TestAcceptEMFILE.
const emfileChildEnv = "SMOLNET_EMFILE_CHILD"

// TestMain runs the child process of TestAcceptEMFILE when asked to, raises
// the open-file limit for the many-connection test, and checks that no test
// leaks a goroutine. The reactor's fallback goroutine and the blocking
// pool's idle workers are the runtime's own and outlive tests.
func TestMain(m *testing.M) {
	if os.Getenv(emfileChildEnv) != "" {
		os.Exit(emfileChild())
	}
	raiseFileLimit()
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/smolgo/smol.(*reactor).fallback"),
		goleak.IgnoreAnyFunction("github.com/smolgo/smol/blocking.(*Pool).work"),
	)
}

// fileLimit is the soft open-file limit after raiseFileLimit.
var fileLimit uint64

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit, as a
// server would; tests that need more descriptors than that skip or fail
// with the numbers.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, "getrlimit:", err)
		return
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
	}
	fileLimit = uint64(lim.Cur)
}
