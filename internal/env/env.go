// Package env reads the runtime's settings from environment variables.
package env

import (
	"fmt"
	"os"
	"strconv"
)

// Int reads a positive integer setting: def if name is unset, and def
// also, with a note on stderr, if its value is not an integer in
// 1..limit, since a bad setting should not crash a program.
func Int(name string, def, limit int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > limit {
		fmt.Fprintf(os.Stderr, "smol: ignoring %s=%q: want an integer in 1..%d; using %d\n", name, s, limit, def)
		return def
	}
	return n
}
