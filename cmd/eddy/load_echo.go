package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/eddyio/eddy"
)

// Echo mode: every connection sends messages of cfg.size bytes, up to cfg.pipeline of them in flight,
// and checks that every byte comes back in order. A message is the connection's own pattern (random bytes
// seeded with the connection's number) with the message's sequence number stamped over its first (up to)
// 8 bytes, so that a reply from another connection, or a repeated or skipped message, does not verify.

// echoState is a client's side of the echo protocol.
type echoState struct {
	msg  []byte // the pattern; msg[:8] holds the stamp of the last message sent
	sent uint64 // messages sent
	got  uint64 // messages received whole
	off  int    // bytes of message got received so far
}

// init fills the pattern of the connection seeded with seed.
func (e *echoState) init(seed uint64, size int) {
	e.msg = make([]byte, size)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for i := range e.msg {
		e.msg[i] = byte(rng.Uint32())
	}
}

// write sends the next message on c.
func (e *echoState) write(c eddy.Conn) {
	var stamp [8]byte
	binary.LittleEndian.PutUint64(stamp[:], e.sent)
	copy(e.msg, stamp[:])
	e.sent++
	c.Write(e.msg)
}

// want returns the byte at offset i of message seq.
func (e *echoState) want(seq uint64, i int) byte {
	if i < 8 {
		return byte(seq >> (8 * i))
	}
	return e.msg[i]
}

// check compares b with the next len(b) bytes expected of message got from offset off, and returns the
// offset in b of the first byte that differs, or -1.
func (e *echoState) check(b []byte) int {
	i := 0
	for ; i < len(b) && e.off+i < 8; i++ {
		if b[i] != e.want(e.got, e.off+i) {
			return i
		}
	}
	if i < len(b) && !bytes.Equal(b[i:], e.msg[e.off+i:e.off+len(b)]) {
		for ; b[i] == e.msg[e.off+i]; i++ {
		}
		return i
	}
	return -1
}

// errMismatch is a reply whose bytes differ from what was sent.
var errMismatch = errors.New("reply differs from the message sent")

// readEcho verifies what c has received against the messages in flight, records each message that came
// back whole, and sends the next ones. A byte that differs, or one that nobody asked for, puts the
// stream out of step: it is counted as a mismatch and the connection is closed.
func (cl *client) readEcho(c eddy.Conn, now int64) {
	sh, e := cl.shard, &cl.echo
	b, _ := c.Next(-1)
	size := len(e.msg)
	for len(b) > 0 {
		if cl.n == 0 {
			cl.mismatch(now, fmt.Errorf("%w: %d bytes more than was sent", errMismatch, len(b)))
			return
		}
		k := min(len(b), size-e.off)
		if i := e.check(b[:k]); i >= 0 {
			at := e.off + i
			cl.mismatch(now, fmt.Errorf("round %d: %w at byte %d: sent %#02x, got %#02x", e.got, errMismatch, at, e.want(e.got, at), b[i]))
			return
		}
		e.off += k
		b = b[k:]
		if e.off == size {
			e.off = 0
			e.got++
			sh.complete(cl, now, true, size)
		}
	}
	cl.fill(now)
}

// mismatch counts a reply that does not match, and ends the client: later replies would not match
// either.
func (cl *client) mismatch(now int64, err error) {
	sh := cl.shard
	sh.mismatches++
	if sh.failed(now) {
		sh.firstErr = fmt.Errorf("connection %d, %w", cl.id, err)
	}
	cl.lose()
	cl.detach()
	cl.r.clientGone()
}
