package buffer

import "io"

// Inbound holds the inbound bytes of one connection that its handler has not consumed yet. While a
// callback runs, the bytes may live in the loop's shared read buffer (Add borrows them); Keep copies what is
// left into a pooled chunk afterwards, so an idle connection with nothing buffered holds no memory.
//
// Inbound is a single pointer, so that it costs an idle connection 8 bytes. A borrow is described by a
// Chunk the loop owns and lends to one connection at a time (a loop runs one callback at a time); the
// Chunk's borrowed flag tells it apart from owned storage, which goes back to the pool when drained.
// It is not safe for concurrent use.
type Inbound struct {
	own *Chunk // owned storage or, during one callback, the loop's borrow chunk; nil when empty
}

// Len returns the number of unconsumed bytes.
func (in *Inbound) Len() int {
	if in.own != nil {
		return in.own.Len()
	}
	return 0
}

// Bytes returns the unconsumed bytes; the slice aliases the buffer.
func (in *Inbound) Bytes() []byte {
	if in.own != nil {
		return in.own.Bytes()
	}
	return nil
}

// Consume drops the first n unconsumed bytes (n <= Len); drained owned storage goes back to the
// pool, unless a slice returned by Next points into it: that one stays attached, empty, until the
// next Keep, since the handler may use the slice until its callback returns (a chunk put back in the
// pool now could be handed to the connection's own next Write, which would overwrite it). A Peek
// slice is valid only until its bytes are consumed, so it holds nothing back.
func (in *Inbound) Consume(n int) {
	c := in.own
	if c == nil {
		return
	}
	c.R += n
	if c.Len() == 0 && !c.lent {
		in.own = nil
		Put(c) // a no-op for a borrow chunk
	}
}

// Add makes b available to the handler. When nothing is kept, b is borrowed (not copied) through sh, a
// chunk owned by the caller that no other Inbound uses until Keep; the caller must call Keep before b's
// storage is reused or sh is lent again. Otherwise b is appended to the kept bytes.
func (in *Inbound) Add(sh *Chunk, b []byte) {
	if in.own == nil {
		if len(b) == 0 {
			return
		}
		sh.B, sh.R, sh.W, sh.borrowed = b[:len(b):len(b)], 0, len(b), true
		in.own = sh
		return
	}
	in.Append(b) // after a borrow in this callback round, Append keeps the borrowed part first
}

// Append copies b after the kept bytes.
func (in *Inbound) Append(b []byte) {
	if len(b) == 0 {
		return
	}
	in.Keep()
	c := in.own
	if c == nil {
		c = Get(len(b))
		in.own = c
	} else if c.Free() < len(b) {
		c.Compact()
		if c.Free() < len(b) {
			// At least double: past MaxPooled, Get gives exactly what is asked for, and a trickle
			// of small appends to a large backlog copied all of it each time.
			bigger := Get(max(c.Len()+len(b), 2*c.Len()))
			bigger.W = copy(bigger.B, c.Bytes())
			Put(c)
			c = bigger
			in.own = c
		}
	}
	c.W += copy(c.B[c.W:], b)
}

// Keep ends a callback's use of the buffer. It ends a borrow: the unconsumed borrowed bytes, if any, are
// copied into owned storage, and the borrow chunk is free to lend again. Owned storage that the callback
// drained goes back to the pool, and a large chunk left mostly empty is traded for a smaller one.
func (in *Inbound) Keep() {
	sh := in.own
	if sh == nil {
		return
	}
	if !sh.borrowed {
		sh.lent = false // the callback is over, and so is the Next slice's life
		switch n := sh.Len(); {
		case n == 0:
			in.own = nil
			Put(sh)
		case len(sh.B) > chunkTarget && n <= len(sh.B)/8:
			// A burst grew the chunk, and the handler has consumed most of it: what is left moves to
			// a chunk of its own size (at most half this one), so that a connection does not hold its
			// largest burst for as long as it keeps a partial frame. The copy is at most an eighth of
			// the chunk, and growing it back takes as many bytes again: amortised O(1) per byte.
			c := Get(n)
			c.W = copy(c.B, sh.Bytes())
			in.own = c
			Put(sh)
		}
		return
	}
	in.own = nil
	if sh.Len() > 0 {
		c := Get(sh.Len())
		c.W = copy(c.B, sh.Bytes())
		in.own = c
	}
	sh.B, sh.R, sh.W = nil, 0, 0
}

// Reset drops everything and releases the memory.
func (in *Inbound) Reset() {
	if c := in.own; c != nil {
		in.own = nil
		if c.borrowed {
			c.B, c.R, c.W = nil, 0, 0
			return
		}
		Put(c)
	}
}

// Peek returns the next n unconsumed bytes (all of them when n <= 0), or what there is and
// io.ErrShortBuffer when fewer than n are buffered. The slice aliases the buffer; its capacity is its
// length, so that an append to it copies instead of writing over the input behind it.
func (in *Inbound) Peek(n int) ([]byte, error) {
	b := in.Bytes()
	switch {
	case n <= 0 || n == len(b):
		return b[:len(b):len(b)], nil
	case n > len(b):
		return b[:len(b):len(b)], io.ErrShortBuffer
	}
	return b[:n:n], nil
}

// Next is Peek followed by consuming the bytes returned; the slice stays valid until Keep.
func (in *Inbound) Next(n int) ([]byte, error) {
	b, err := in.Peek(n)
	if c := in.own; c != nil && len(b) > 0 && !c.borrowed {
		c.lent = true
	}
	in.Consume(len(b))
	return b, err
}

// Discard consumes up to n bytes (all of them when n < 0) and returns how many.
func (in *Inbound) Discard(n int) int {
	if m := in.Len(); n < 0 || n > m {
		n = m
	}
	in.Consume(n)
	return n
}
