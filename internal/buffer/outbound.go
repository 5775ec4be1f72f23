package buffer

// chunkTarget is the size of chunk Outbound prefers for copies: big enough that a 64 KiB echo needs one
// chunk, small enough that a slow peer's queue grows in modest steps.
const chunkTarget = 32 << 10

// Outbound is a FIFO of bytes waiting to be written, stored in pooled chunks. The zero value is empty and
// holds no memory. It is not safe for concurrent use.
type Outbound struct {
	chunks []*Chunk
	n      int
}

// Len returns the number of queued bytes.
func (q *Outbound) Len() int { return q.n }

// Write appends a copy of b.
func (q *Outbound) Write(b []byte) {
	q.n += len(b)
	if k := len(q.chunks); k > 0 {
		t := q.chunks[k-1]
		m := copy(t.B[t.W:], b)
		t.W += m
		b = b[m:]
	}
	for len(b) > 0 {
		// A new chunk holds b and, when the queue already holds bytes, as many again: a lone small write
		// takes a small chunk, and a stream of small writes doubles (at least) its chunks' size, so it
		// needs few chunks (and iovecs).
		c := Get(min(max(len(b), q.n), chunkTarget))
		m := copy(c.B, b)
		c.W = m
		b = b[m:]
		q.chunks = append(q.chunks, c)
	}
}

// Vectors appends the queued bytes to dst as at most max slices, in order, and returns dst. The slices
// alias the queue and are valid until the next Consume or Reset: a Write (or WriteStaged) only appends
// after the bytes queued, so a send in flight (the uring engine's) may read them while the handler writes
// more. Staged bytes are valid until their Stage is reset too.
func (q *Outbound) Vectors(dst [][]byte, max int) [][]byte {
	for i, c := range q.chunks {
		if i >= max { // also a max of 0 or less: no slice
			break
		}
		dst = append(dst, c.Bytes())
	}
	return dst
}

// Consume drops the first n queued bytes (n <= Len) and returns emptied chunks to their pool.
func (q *Outbound) Consume(n int) {
	if n == q.n { // all of it: the usual case of a flush
		q.Reset()
		return
	}
	q.n -= n
	i := 0
	for n > 0 {
		c := q.chunks[i]
		m := min(n, c.Len())
		c.R += m
		n -= m
		if c.Len() > 0 {
			break
		}
		Put(c)
		q.chunks[i] = nil
		i++
	}
	if i > 0 {
		k := copy(q.chunks, q.chunks[i:])
		clear(q.chunks[k:])
		q.chunks = q.chunks[:k]
	}
	if q.n == 0 {
		q.Reset()
	}
}

// keepIndex is the largest chunk index array Reset keeps for reuse: a connection that writes keeps a tiny
// array (8 to 32 bytes) rather than allocating one per burst; a queue that once grew long gives it back.
const keepIndex = 4

// Reset drops everything queued and returns the chunks to their pools.
func (q *Outbound) Reset() {
	for i, c := range q.chunks {
		Put(c)
		q.chunks[i] = nil
	}
	if cap(q.chunks) <= keepIndex {
		q.chunks = q.chunks[:0]
	} else {
		q.chunks = nil
	}
	q.n = 0
}
