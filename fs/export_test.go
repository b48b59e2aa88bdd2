package fs

// SetReadAhead sets the read-ahead size (0 turns it off) and returns the
// old one, for the benchmarks that measure whether it pays.
func SetReadAhead(n int) int {
	old := raSize
	raSize = n
	return old
}
