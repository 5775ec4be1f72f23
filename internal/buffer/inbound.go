package buffer

import "io"

// Inbound holds the inbound bytes of one connection that its handler has not consumed yet. While a
// callback runs, the bytes may live in the loop's shared read buffer (Borrow); Keep copies what is left
// into a pooled chunk afterwards, so an idle connection with nothing buffered holds no memory.
// It is not safe for concurrent use.
type Inbound struct {
	own      *Chunk // owned storage, nil when nothing is kept
	borrowed []byte // unconsumed bytes in the loop's buffer, during one callback
}

// Len returns the number of unconsumed bytes.
func (in *Inbound) Len() int {
	if in.borrowed != nil {
		return len(in.borrowed)
	}
	if in.own != nil {
		return in.own.Len()
	}
	return 0
}

// Bytes returns the unconsumed bytes; the slice aliases the buffer.
func (in *Inbound) Bytes() []byte {
	if in.borrowed != nil {
		return in.borrowed
	}
	if in.own != nil {
		return in.own.Bytes()
	}
	return nil
}

// Consume drops the first n unconsumed bytes (n <= Len).
func (in *Inbound) Consume(n int) {
	if in.borrowed != nil {
		in.borrowed = in.borrowed[n:]
		return
	}
	if in.own != nil {
		in.own.R += n
		if in.own.Len() == 0 {
			Put(in.own)
			in.own = nil
		}
	}
}

// Add makes b available to the handler. When nothing is kept, b is borrowed (not copied), and the caller
// must call Keep before b's storage is reused; otherwise b is appended to the kept bytes.
func (in *Inbound) Add(b []byte) {
	if in.own == nil && in.borrowed == nil {
		in.borrowed = b[:len(b):len(b)]
		return
	}
	if in.borrowed != nil { // a second Add in one callback round: keep the first part first
		in.Keep()
	}
	in.Append(b)
}

// Append copies b after the kept bytes.
func (in *Inbound) Append(b []byte) {
	if len(b) == 0 {
		return
	}
	c := in.own
	if c == nil {
		c = Get(len(b))
		in.own = c
	} else if c.Free() < len(b) {
		c.Compact()
		if c.Free() < len(b) {
			bigger := Get(c.Len() + len(b))
			bigger.W = copy(bigger.B, c.Bytes())
			Put(c)
			c = bigger
			in.own = c
		}
	}
	c.W += copy(c.B[c.W:], b)
}

// Keep ends a borrow: the unconsumed borrowed bytes, if any, are copied into owned storage.
func (in *Inbound) Keep() {
	b := in.borrowed
	if b == nil {
		return
	}
	in.borrowed = nil
	in.Append(b)
}

// Reset drops everything and releases the memory.
func (in *Inbound) Reset() {
	in.borrowed = nil
	if in.own != nil {
		Put(in.own)
		in.own = nil
	}
}

// Peek returns the next n unconsumed bytes (all of them when n <= 0), or what there is and
// io.ErrShortBuffer when fewer than n are buffered. The slice aliases the buffer.
func (in *Inbound) Peek(n int) ([]byte, error) {
	b := in.Bytes()
	switch {
	case n <= 0 || n == len(b):
		return b, nil
	case n > len(b):
		return b, io.ErrShortBuffer
	}
	return b[:n], nil
}

// Next is Peek followed by consuming the bytes returned.
func (in *Inbound) Next(n int) ([]byte, error) {
	b, err := in.Peek(n)
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
