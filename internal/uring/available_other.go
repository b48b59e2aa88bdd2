//go:build !linux

package uring

import (
	"errors"
	"fmt"
)

// Available reports why io_uring cannot be used: it exists only on Linux.
// An unparsable EnvBackend and SMOL_BACKEND=epoll are reported first, as on
// Linux.
func Available() error {
	switch c, err := Chosen(); {
	case err != nil:
		return err
	case c == Epoll:
		return ErrNotChosen
	}
	return fmt.Errorf("uring: io_uring exists only on Linux: %w", errors.ErrUnsupported)
}
