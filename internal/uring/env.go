package uring

import (
	"errors"
	"fmt"
	"os"
)

// EnvBackend is the environment variable that chooses the reactor's
// kernel interface on Linux:
//
//	SMOL_BACKEND=uring   use io_uring; if it is unavailable the reactor
//	                     fails to start with the reason, rather than
//	                     quietly using epoll
//	SMOL_BACKEND=uring-completion
//	                     the reactor on epoll, and smolnet's TCP
//	                     listeners and the connections they accept, in
//	                     tasks of a LocalExecutor, on a completion ring of
//	                     that executor (multishot accept and receive, sends
//	                     as requests; see smolnet's package doc); fails
//	                     like uring if io_uring is unavailable (a program
//	                     asks for the same per listener, falling back to
//	                     epoll, with smolnet.ListenConfig.IOURing)
//	SMOL_BACKEND=epoll   use epoll (kqueue on macOS and the BSDs) even if
//	                     io_uring is available
//	SMOL_BACKEND=auto    or unset: the reactor's default, falling back to
//	                     epoll when io_uring is unavailable
//
// The value is read by every call to Available and Forced, so tests may
// change it between calls; the reactor reads it once, when it starts. Any
// other value is an error, so that a typo does not silently pick a backend.
const EnvBackend = "SMOL_BACKEND"

// Choice is a parsed value of EnvBackend.
type Choice int

const (
	// Auto: unset or "auto"; the reactor decides.
	Auto Choice = iota
	// Epoll: "epoll" (or "kqueue"); io_uring must not be used.
	Epoll
	// URing: "uring" (or "io_uring"); io_uring must be used.
	URing
	// Completion: "uring-completion"; the reactor uses epoll, and
	// smolnet's completion path must be used where it applies.
	Completion
)

// ErrNotChosen is returned by Available when EnvBackend says epoll.
var ErrNotChosen = errors.New("uring: not chosen: " + EnvBackend + "=epoll")

// Chosen parses EnvBackend.
func Chosen() (Choice, error) {
	switch v := os.Getenv(EnvBackend); v {
	case "", "auto":
		return Auto, nil
	case "epoll", "kqueue":
		return Epoll, nil
	case "uring", "io_uring":
		return URing, nil
	case "uring-completion":
		return Completion, nil
	default:
		return Auto, fmt.Errorf("uring: %s=%q: want uring, uring-completion, epoll or auto", EnvBackend, v)
	}
}

// Forced reports whether EnvBackend demands io_uring, in which case a
// reactor that finds it unavailable must fail with Available's error
// instead of falling back to epoll.
func Forced() bool {
	c, err := Chosen()
	return err == nil && c == URing
}
