package buffer

import (
	"math/bits"
	"sync"
)

// Chunk is a pooled byte buffer with a read and a write index: B[R:W] holds the bytes not yet consumed, and
// B[W:] is free space.
type Chunk struct {
	B    []byte
	R, W int
	// borrowed marks a chunk that lends a loop's memory: its read buffer to an Inbound (see Inbound.Add),
	// or its Stage to an Outbound (see Outbound.WriteStaged). It is never pooled, and Keep or Own copies
	// its bytes out.
	borrowed bool
	// lent marks an Inbound's owned chunk that a slice returned by Next points into: drained, it stays
	// out of the pool until the callback ends (Inbound.Keep).
	lent bool
}

// Len returns the number of unconsumed bytes.
func (c *Chunk) Len() int { return c.W - c.R }

// Bytes returns the unconsumed bytes; the slice aliases the chunk.
func (c *Chunk) Bytes() []byte { return c.B[c.R:c.W] }

// Free returns the number of bytes that can be appended without compacting.
func (c *Chunk) Free() int { return len(c.B) - c.W }

// Compact moves the unconsumed bytes to the front of the chunk.
func (c *Chunk) Compact() {
	if c.R == 0 {
		return
	}
	n := copy(c.B, c.B[c.R:c.W])
	c.R, c.W = 0, n
}

// Size classes: powers of four from 128 B to 2 MiB. Larger requests get an unpooled chunk of their own.
// The smallest class fits a small reply (a 64-byte echo, an HTTP/1.1 "204 No Content") or a short
// leftover; on the uring engine every connection with a send in flight holds one until the kernel has
// taken it, so after a burst over thousands of connections the pool holds thousands of them.
const (
	minClassShift = 7
	numClasses    = 8
	// MaxPooled is the largest chunk size kept in a pool.
	MaxPooled = 1 << (minClassShift + 2*(numClasses-1))
)

var pools [numClasses]sync.Pool

// classOf returns the index of the smallest class holding n bytes, or -1 when n exceeds MaxPooled.
func classOf(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	if n > MaxPooled {
		return -1
	}
	shift := bits.Len(uint(n - 1)) // 2^shift >= n
	return (shift - minClassShift + 1) / 2
}

// Get returns an empty chunk with room for at least n bytes.
func Get(n int) *Chunk {
	cl := classOf(n)
	if cl < 0 {
		return &Chunk{B: make([]byte, n)}
	}
	if c, ok := pools[cl].Get().(*Chunk); ok {
		return c
	}
	return &Chunk{B: make([]byte, 1<<(minClassShift+2*cl))}
}

// Put returns c to its pool; c must not be used afterwards.
func Put(c *Chunk) {
	if c.borrowed {
		return // a borrow chunk belongs to its loop
	}
	c.R, c.W, c.lent = 0, 0, false
	size := len(c.B)
	cl := classOf(size)
	if cl < 0 || 1<<(minClassShift+2*cl) != size {
		return // not a pooled size: let the GC have it
	}
	pools[cl].Put(c)
}
