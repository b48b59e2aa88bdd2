//go:build !linux

package smolnet_test

// emfileChild exists only on Linux, where TestAcceptEMFILE runs.
func emfileChild() int { return 2 }
