//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package poller

import (
	"errors"
	"time"
)

// Poller is not implemented on this system: New returns
// errors.ErrUnsupported. The type and its methods exist so that code using
// the package still compiles here.
type Poller struct{}

// New returns errors.ErrUnsupported on this system.
func New() (*Poller, error) { return nil, errors.ErrUnsupported }

// Add returns errors.ErrUnsupported on this system.
func (p *Poller) Add(fd int, key uint64) error { return errors.ErrUnsupported }

// AddOneShot returns errors.ErrUnsupported on this system.
func (p *Poller) AddOneShot(fd int, key uint64, read, write bool) error {
	return errors.ErrUnsupported
}

// Modify returns errors.ErrUnsupported on this system.
func (p *Poller) Modify(fd int, key uint64, read, write bool) error {
	return errors.ErrUnsupported
}

// Delete returns errors.ErrUnsupported on this system.
func (p *Poller) Delete(fd int) error { return errors.ErrUnsupported }

// Wait returns errors.ErrUnsupported on this system.
func (p *Poller) Wait(events []Event, timeout time.Duration) (int, error) {
	return 0, errors.ErrUnsupported
}

// Notify returns errors.ErrUnsupported on this system.
func (p *Poller) Notify() error { return errors.ErrUnsupported }

// Close returns errors.ErrUnsupported on this system.
func (p *Poller) Close() error { return errors.ErrUnsupported }

// Backend returns "" on this system: there is no backend.
func (p *Poller) Backend() string { return "" }
