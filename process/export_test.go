package process

// UsePidfd turns the use of pidfds on or off (on Linux; elsewhere there are
// none), so that the tests run the SIGCHLD path here too.
func UsePidfd(on bool) { noPidfd.Store(!on) }

// HasPidfd reports whether c learns of its exit from a pidfd.
func HasPidfd(c *Child) bool { return c.p.pidfd != nil }
