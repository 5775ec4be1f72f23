package buffer

// Stage lends an event loop's staging memory to the output queues written in one loop iteration. A reply
// written to an empty queue (Outbound.WriteStaged) is copied into the stage instead of into a pooled chunk
// of its own; the loop flushes every written queue at the end of the iteration, or sooner once enough is
// staged (Used), which usually sends it all, and a queue that still holds staged bytes then copies them
// into its own chunks (Outbound.Own) before the loop resets the stage. The common reply so costs one copy into memory the loop reuses, with no pool
// round trip, and the replies of one iteration sit next to each other.
//
// The kernel must be done with the staged bytes when the loop resets the stage: this suits an engine whose
// writes complete inside the system call (epoll), not one with sends in flight across iterations (uring).
// A Stage belongs to one goroutine.
type Stage struct {
	mem       []byte
	off       int       // mem[:off] is lent in this iteration
	hdrs      [][]Chunk // blocks of chunk headers, kept across iterations
	blk, idx  int       // the next free header: hdrs[blk][idx]
	last      *Chunk    // the header of the last region lent, which may grow (see WriteStaged)
	lastStart int
}

// stageHeaderBlock is how many chunk headers a Stage allocates at a time. Blocks are never moved, so the
// headers lent stay valid while more are added.
const stageHeaderBlock = 256

// NewStage returns a Stage of size bytes.
func NewStage(size int) *Stage { return &Stage{mem: make([]byte, size)} }

// lend returns a borrowed chunk holding a copy of b, or nil when the stage lacks room.
func (s *Stage) lend(b []byte) *Chunk {
	if len(b) > len(s.mem)-s.off {
		return nil
	}
	if s.idx == stageHeaderBlock {
		s.blk, s.idx = s.blk+1, 0
	}
	if s.blk == len(s.hdrs) {
		s.hdrs = append(s.hdrs, make([]Chunk, stageHeaderBlock))
	}
	h := &s.hdrs[s.blk][s.idx]
	s.idx++
	start := s.off
	s.off += copy(s.mem[start:], b)
	*h = Chunk{B: s.mem[start:s.off:s.off], W: len(b), borrowed: true}
	s.last, s.lastStart = h, start
	return h
}

// grow appends a copy of b to c, the last region lent, and reports whether there was room.
func (s *Stage) grow(c *Chunk, b []byte) bool {
	if c != s.last || len(b) > len(s.mem)-s.off {
		return false
	}
	s.off += copy(s.mem[s.off:], b)
	c.B = s.mem[s.lastStart:s.off:s.off]
	c.W = len(c.B)
	return true
}

// Used returns how many bytes of the stage are lent since the last Reset.
func (s *Stage) Used() int { return s.off }

// Reset makes the whole stage available again. Every queue written through it must have been flushed,
// made to Own its bytes, or Reset since.
func (s *Stage) Reset() {
	s.off, s.blk, s.idx, s.last = 0, 0, 0, nil
}

// WriteStaged appends a copy of b, as Write does, but into st when the queue was empty or its last bytes
// are the stage's last region: the queue then holds staged bytes, and must Own them (or be emptied)
// before st is Reset.
func (q *Outbound) WriteStaged(st *Stage, b []byte) {
	if len(b) == 0 {
		return
	}
	if k := len(q.chunks); k == 0 {
		if c := st.lend(b); c != nil {
			q.chunks = append(q.chunks, c)
			q.n += len(b)
			return
		}
	} else if t := q.chunks[k-1]; t.borrowed && st.grow(t, b) {
		q.n += len(b)
		return
	}
	q.Write(b)
}

// Own copies the staged bytes the queue still holds into pooled chunks of its own, so that their stage
// can be reset.
func (q *Outbound) Own() {
	for i, c := range q.chunks {
		if c.borrowed {
			o := Get(c.Len())
			o.W = copy(o.B, c.Bytes())
			q.chunks[i] = o
		}
	}
}
