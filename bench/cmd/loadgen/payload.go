package main

import "math/rand/v2"

// patWindow is the number of distinct message windows; it is prime so that
// the offsets of consecutive requests on a connection never coincide.
const patWindow = 251

// payload hands out request messages. Every message is a window of one
// fixed pseudo-random pattern, at an offset that depends on the connection
// and the request's sequence number. Consecutive requests on a connection
// therefore differ, so an echo that is stale, duplicated, reordered or
// delivered to the wrong connection fails the byte-for-byte comparison,
// while no message is ever generated or copied on the hot path.
type payload struct {
	size int
	pat  []byte
}

func newPayload(size int) *payload {
	r := rand.New(rand.NewPCG(0x5eed, uint64(size)))
	pat := make([]byte, size+patWindow)
	for i := range pat {
		pat[i] = byte(r.Uint32())
	}
	return &payload{size: size, pat: pat}
}

// msg returns the message for request seq on connection conn. The slice
// aliases the shared pattern and must not be modified.
func (p *payload) msg(conn int, seq uint32) []byte {
	off := (conn*7 + int(seq%patWindow)*13) % patWindow
	return p.pat[off : off+p.size]
}
