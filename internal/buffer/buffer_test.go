package buffer

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
)

func TestClassOfCoversEverySize(t *testing.T) {
	for _, n := range []int{0, 1, 128, 129, 512, 513, 2048, 2049, 8192, 32 << 10, 128 << 10, 512<<10 + 1, MaxPooled} {
		c := Get(n)
		if len(c.B) < n {
			t.Fatalf("Get(%d) gave %d bytes", n, len(c.B))
		}
		if cl := classOf(n); cl < 0 || 1<<(minClassShift+2*cl) != len(c.B) {
			t.Fatalf("Get(%d): chunk of %d bytes is not its class size", n, len(c.B))
		}
		Put(c)
	}
	if big := Get(MaxPooled + 1); len(big.B) != MaxPooled+1 {
		t.Fatalf("oversize Get gave %d bytes", len(big.B))
	}
}

func TestOutboundIsAFIFOAcrossChunks(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q Outbound
	var want []byte
	for round := 0; round < 200; round++ {
		b := make([]byte, r.IntN(100_000))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		q.Write(b)
		want = append(want, b...)
		if q.Len() != len(want) {
			t.Fatalf("Len %d, want %d", q.Len(), len(want))
		}
		// consume a random prefix, checking it through Vectors
		n := r.IntN(q.Len() + 1)
		var got []byte
		for _, v := range q.Vectors(nil, 3) {
			got = append(got, v...)
		}
		if !bytes.HasPrefix(want, got) {
			t.Fatal("Vectors are not the queue's prefix")
		}
		n = min(n, len(got))
		q.Consume(n)
		want = want[n:]
	}
	q.Reset()
	if q.Len() != 0 || len(q.chunks) != 0 {
		t.Fatal("Reset left bytes")
	}
}

func TestOutboundSteadyStateAllocatesNothing(t *testing.T) {
	var q Outbound
	msg := make([]byte, 64)
	q.Write(msg)
	q.Consume(64)
	allocs := testing.AllocsPerRun(1000, func() {
		q.Write(msg)
		q.Consume(q.Len())
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per write+consume", allocs)
	}
}

func TestInboundBorrowKeepAndPeek(t *testing.T) {
	var in Inbound
	var sh Chunk
	loopBuf := []byte("hello world")
	in.Add(&sh, loopBuf)
	if b, err := in.Peek(5); err != nil || string(b) != "hello" {
		t.Fatalf("Peek(5) = %q, %v", b, err)
	}
	if b, _ := in.Next(6); string(b) != "hello " {
		t.Fatalf("Next(6) = %q", b)
	}
	in.Keep() // the rest is copied out of the loop's buffer
	copy(loopBuf, "XXXXXXXXXXX")
	if b, err := in.Peek(10); err != io.ErrShortBuffer || string(b) != "world" {
		t.Fatalf("Peek(10) after Keep = %q, %v; want the kept bytes and ErrShortBuffer", b, err)
	}
	in.Add(&sh, []byte("!!"))
	if b, _ := in.Peek(-1); string(b) != "world!!" {
		t.Fatalf("after a second Add: %q", b)
	}
	if n := in.Discard(-1); n != 7 || in.Len() != 0 {
		t.Fatalf("Discard(-1) = %d, Len %d; want 7, 0", n, in.Len())
	}
	in.Keep() // the callback has returned
	if in.own != nil {
		t.Fatalf("own %v after Keep: a drained buffer must hold no chunk", in.own)
	}
}

// A slice that Next returns stays valid until the callback ends (Keep), even when Next drains
// owned storage: a chunk taken from the pool meanwhile, as the connection's next Write does,
// must not be the one the slice points into.
func TestInboundNextSliceOutlivesTheDrain(t *testing.T) {
	var in Inbound
	in.Append([]byte("kept from an earlier callback"))
	b, _ := in.Next(-1)
	other := Get(len(b))
	copy(other.B, "overwritten by somebody else!")
	if string(b) != "kept from an earlier callback" {
		t.Fatalf("Next's slice changed before the callback ended: %q", b)
	}
	Put(other)
	in.Keep()
	if in.own != nil || in.Len() != 0 {
		t.Fatalf("after Keep: own %v, Len %d; want nothing held", in.own, in.Len())
	}
}

func TestInboundFullyConsumedBorrowCopiesNothing(t *testing.T) {
	var in Inbound
	var sh Chunk
	buf := make([]byte, 4096)
	allocs := testing.AllocsPerRun(1000, func() {
		in.Add(&sh, buf)
		in.Next(-1)
		in.Keep()
	})
	if allocs != 0 || in.own != nil {
		t.Fatalf("%v allocations; own %v", allocs, in.own)
	}
}

func TestInboundBorrowChunkIsLentToOneConnectionAtATime(t *testing.T) {
	var a, b Inbound
	var sh Chunk
	loopBuf := []byte("abcdef")
	a.Add(&sh, loopBuf)
	a.Next(2)
	a.Keep() // "cdef" copied out; sh is free again
	copy(loopBuf, "uvwxyz")
	b.Add(&sh, loopBuf[:3])
	if got := string(b.Bytes()); got != "uvw" {
		t.Fatalf("b = %q", got)
	}
	b.Reset() // a borrow dropped without Keep must not reach the pool
	if got := string(a.Bytes()); got != "cdef" {
		t.Fatalf("a = %q after the borrow chunk was lent to b", got)
	}
	if a.own == &sh || !sh.borrowed || sh.B != nil {
		t.Fatalf("a owns the borrow chunk, or the chunk still aliases the loop buffer")
	}
	Put(&sh) // ignored for a borrow chunk
	if c := Get(512); c == &sh {
		t.Fatal("the borrow chunk went into the pool")
	}
}

func TestOutboundSizesChunksToWhatIsQueued(t *testing.T) {
	var q Outbound
	q.Write(make([]byte, 64))
	if len(q.chunks) != 1 || len(q.chunks[0].B) != 128 {
		t.Fatalf("a lone 64-byte write took %d chunks, the first of %d bytes; want one of 128", len(q.chunks), len(q.chunks[0].B))
	}
	q.Reset()
	// 10,000 writes of 10 bytes: the chunks grow with the queue, so there are few of them.
	want := make([]byte, 0, 100_000)
	for i := range 10_000 {
		b := bytes.Repeat([]byte{byte(i)}, 10)
		q.Write(b)
		want = append(want, b...)
	}
	vecs := q.Vectors(nil, 1024)
	if len(vecs) > 12 {
		t.Errorf("100,000 bytes in 10-byte writes are in %d chunks, want at most 12", len(vecs))
	}
	if got := bytes.Join(vecs, nil); !bytes.Equal(got, want) {
		t.Fatal("the queued bytes differ from the written ones")
	}
	q.Reset()
}

func TestStagedWritesLeaveTheStageWhenOwned(t *testing.T) {
	st := NewStage(256)
	var a, b, c Outbound
	a.WriteStaged(st, []byte("hello, "))
	a.WriteStaged(st, []byte("world")) // grows a's region: it is the stage's last
	b.WriteStaged(st, bytes.Repeat([]byte{'b'}, 100))
	a.WriteStaged(st, []byte("!"))                    // a's region is no longer the last: a pooled chunk
	c.WriteStaged(st, bytes.Repeat([]byte{'c'}, 200)) // no room left: pooled
	if len(a.chunks) != 2 || !a.chunks[0].borrowed || a.chunks[1].borrowed || len(b.chunks) != 1 || !b.chunks[0].borrowed || c.chunks[0].borrowed {
		t.Fatalf("staging: a %d chunks, b %d, c staged %v", len(a.chunks), len(b.chunks), c.chunks[0].borrowed)
	}
	if got := bytes.Join(a.Vectors(nil, 8), nil); string(got) != "hello, world!" {
		t.Fatalf("a holds %q", got)
	}
	// b sent part of its bytes; a sent none. Both keep the rest through Own, after which the stage is
	// reused and overwritten.
	b.Consume(40)
	a.Own()
	b.Own()
	c.Own()
	st.Reset()
	var d Outbound
	d.WriteStaged(st, bytes.Repeat([]byte{'d'}, 256))
	if got := bytes.Join(a.Vectors(nil, 8), nil); string(got) != "hello, world!" {
		t.Fatalf("a holds %q after the stage was reused", got)
	}
	if got := bytes.Join(b.Vectors(nil, 8), nil); !bytes.Equal(got, bytes.Repeat([]byte{'b'}, 60)) {
		t.Fatalf("b holds %q after the stage was reused", got)
	}
	for _, q := range []*Outbound{&a, &b, &c, &d} {
		for _, ch := range q.chunks[:len(q.chunks)-1] {
			if ch.borrowed && q != &d {
				t.Fatal("a staged chunk is left after Own")
			}
		}
		q.Consume(q.Len())
		if q.Len() != 0 || len(q.chunks) != 0 {
			t.Fatalf("Consume of everything left %d bytes in %d chunks", q.Len(), len(q.chunks))
		}
	}
}

func TestStagedWritesAllocateNothingInSteadyState(t *testing.T) {
	st := NewStage(64 << 10)
	qs := make([]Outbound, 600) // more than a block of headers
	msg := make([]byte, 64)
	round := func() {
		for i := range qs {
			qs[i].WriteStaged(st, msg)
		}
		for i := range qs {
			qs[i].Consume(qs[i].Len())
			qs[i].Own()
		}
		st.Reset()
	}
	round()
	if n := testing.AllocsPerRun(100, round); n != 0 {
		t.Fatalf("%v allocations per round of 600 staged replies, want 0", n)
	}
}

// Bytes consumed with Discard (or after a Peek) release drained storage at once: only a Next slice
// holds a chunk back until Keep. An engine may run a handler's function (Execute) without a Keep
// after it, and an idle connection must not keep an empty chunk.
func TestInboundDiscardReleasesAtOnce(t *testing.T) {
	var in Inbound
	in.Append(make([]byte, 100<<10))
	in.Peek(10)
	in.Discard(-1)
	if in.own != nil {
		t.Fatalf("after Discard drained it: own %v; want nothing held", in.own)
	}
	in.Append([]byte("abc"))
	in.Next(-1)
	if in.own == nil {
		t.Fatal("a chunk drained by Next went back before Keep")
	}
	in.Keep()
	if in.own != nil {
		t.Fatal("after Keep: the drained chunk is still held")
	}
}

func TestVectorsTakesAtMostMax(t *testing.T) {
	var q Outbound
	for range 3 {
		q.Write(bytes.Repeat([]byte{'x'}, 70_000)) // larger than a chunk: one chunk per write or more
	}
	defer q.Reset()
	all := len(q.Vectors(nil, 1<<20))
	if all < 3 {
		t.Fatalf("210,000 bytes in %d vectors, want at least 3", all)
	}
	for _, m := range []int{-1, 0, 1, 2} {
		if got, want := len(q.Vectors(nil, m)), max(m, 0); got != want {
			t.Errorf("Vectors(max %d) = %d vectors of %d, want %d", m, got, all, want)
		}
	}
}
