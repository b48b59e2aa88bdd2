package main

import (
	"encoding/binary"
	"math"
)

// Every request's size and bytes are a function of (seed, connection,
// request number), so nothing is stored per connection and any failure can
// be reproduced from the three numbers in its message. Byte p of a
// request's message is byte p%8 (little-endian) of word(key, p/8): the
// content is pseudo-random, and differs between requests and between
// connections, so an echo that is corrupted, truncated, stale, duplicated,
// reordered or crossed with another connection fails the comparison at the
// first wrong byte.

// mix is the splitmix64 finalizer: a bijection on 64 bits whose outputs
// look independent for inputs that differ in one bit.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// requestKey names request seq (1, 2, ...) on connection conn.
func requestKey(seed uint64, conn int, seq uint64) uint64 {
	return mix(mix(mix(seed)^uint64(conn)) ^ seq)
}

// word is the j-th 8-byte word of the message with the given key.
func word(key uint64, j int) uint64 {
	return mix(key + uint64(j+1)*0x9e3779b97f4a7c15)
}

// fill writes bytes off .. off+len(dst)-1 of the message with the given key
// into dst.
func fill(dst []byte, key uint64, off int) {
	i, p := 0, off
	for ; i < len(dst) && p%8 != 0; i, p = i+1, p+1 {
		dst[i] = byte(word(key, p/8) >> (8 * (p % 8)))
	}
	for ; i+8 <= len(dst); i, p = i+8, p+8 {
		binary.LittleEndian.PutUint64(dst[i:], word(key, p/8))
	}
	for ; i < len(dst); i, p = i+1, p+1 {
		dst[i] = byte(word(key, p/8) >> (8 * (p % 8)))
	}
}

// sizer draws message sizes in [min, max].
type sizer struct {
	min, max int
	log      bool // log-uniform (each power of two equally likely) rather than uniform
}

// size returns the size of the message with the given key.
func (s sizer) size(key uint64) int {
	u := float64(mix(key^0x5bd1e9955bd1e995)>>11) / (1 << 53) // in [0, 1)
	var n int
	if s.log {
		// min × ((max+1)/min)^u is in [min, max+1).
		n = int(float64(s.min) * math.Pow(float64(s.max+1)/float64(s.min), u))
	} else {
		n = s.min + int(u*float64(s.max-s.min+1))
	}
	return max(s.min, min(n, s.max))
}
