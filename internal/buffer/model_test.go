package buffer

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"sync"
	"testing"

	"pgregory.net/rapid"
)

// Model-based property tests: random sequences of the package's operations against plain
// []byte models. A pool poisoner (modelPoisoner) runs between steps: it takes chunks from the pools,
// overwrites them with 0xEE and puts them back, as the connection's next Write (or another connection's)
// would, so that a chunk pooled while something still points into it shows up as changed bytes, and a
// chunk pooled twice as one handed out twice.

var (
	modelPatternOnce sync.Once
	modelPatternBuf  []byte
	modelPoisonBuf   = bytes.Repeat([]byte{0xEE}, 256)
)

// modelPattern returns pseudo-random bytes to draw input and output from: a slice at a drawn offset, so
// that bytes out of place (a shift, a stale region) do not compare equal by accident.
func modelPattern() []byte {
	modelPatternOnce.Do(func() {
		b := make([]byte, 4<<20)
		x := uint64(1)
		for i := 0; i < len(b); i += 8 { // 8 bytes a store: a store a byte is slow under -race
			x += 0x9e3779b97f4a7c15 // splitmix64
			z := (x ^ x>>30) * 0xbf58476d1ce4e5b9
			z = (z ^ z>>27) * 0x94d049bb133111eb
			binary.LittleEndian.PutUint64(b[i:], z^z>>31)
		}
		modelPatternBuf = b
	})
	return modelPatternBuf
}

// modelSmallSizes draws byte counts: empty, tiny, around the small classes, and around chunkTarget;
// modelSizes also draws sizes around MaxPooled, for one run in eight (they are slow under -race).
var (
	modelSmallSizes = rapid.OneOf(
		rapid.IntRange(0, 8),
		rapid.IntRange(0, 200),
		rapid.IntRange(0, 200),
		rapid.IntRange(100, 3000),
		rapid.IntRange(0, 9000),
		rapid.IntRange(0, 9000),
		rapid.IntRange(30<<10, 70<<10),
	)
	modelLargeSizes = rapid.OneOf(
		modelSmallSizes, modelSmallSizes, modelSmallSizes, modelSmallSizes,
		rapid.SampledFrom([]int{128<<10 + 1, 512 << 10, MaxPooled - 1, MaxPooled, MaxPooled + 1, MaxPooled + 4096}),
	)
)

func modelSizes(rt *rapid.T) *rapid.Generator[int] {
	if rapid.IntRange(0, 7).Draw(rt, "large sizes") == 0 {
		return modelLargeSizes
	}
	return modelSmallSizes
}

// modelReplySizes draws the sizes of small replies.
var modelReplySizes = rapid.IntRange(0, 100)

// modelBurstSizes draws the sizes of reads that make an Inbound keep a chunk larger than chunkTarget.
var modelBurstSizes = rapid.IntRange(chunkTarget+1, 300<<10)

// modelMaxSize is the largest size modelSizes draws.
const modelMaxSize = MaxPooled + 4096

// modelBytes draws n bytes of the pattern; the slice aliases it, and must not be written.
func modelBytes(rt *rapid.T, sizes *rapid.Generator[int], label string) []byte {
	p := modelPattern()
	n := sizes.Draw(rt, label+" size")
	off := rapid.IntRange(0, len(p)-n).Draw(rt, label+" offset")
	return p[off : off+n : off+n]
}

// modelPoisoner stands for the other users of the pools. Its pools step takes chunks from them, checks
// that none is handed out twice or dirty, overwrites them (poison) and puts them back. One check's poisoner
// is deterministic, so that rapid's replay of a failure fails again.
type modelPoisoner struct {
	round int
	// largest is the largest chunk the test saw in use (see saw): the larger classes are not poisoned, as
	// nothing of the test's can be in their pools, and allocating chunks for them is slow.
	largest int
}

// saw notes a chunk in use.
func (p *modelPoisoner) saw(c *Chunk) {
	if c != nil {
		p.largest = max(p.largest, len(c.B))
	}
}

// large poisons the classes above chunkTarget, up to the largest chunk seen in use.
func (p *modelPoisoner) large(rt *rapid.T) {
	p.pools(rt, chunkTarget+1, p.largest)
}

// pools poisons chunks of the classes from..upTo (sizes in bytes).
func (p *modelPoisoner) pools(rt *rapid.T, from, upTo int) {
	for cl := range numClasses {
		size := 1 << (minClassShift + 2*cl)
		if size < from {
			continue
		}
		if size > upTo {
			break
		}
		k := 3
		if size > chunkTarget {
			k = 2 // allocating three of them, when the pool is empty, is too slow
		}
		var got [3]*Chunk
		for i := range k {
			c := Get(size)
			for _, o := range got[:i] {
				if o == c {
					rt.Fatalf("the pool handed out the chunk %p (%d bytes) twice", c, size)
				}
			}
			if c.R != 0 || c.W != 0 || c.borrowed || c.lent || len(c.B) < size {
				rt.Fatalf("Get(%d) gave a chunk with R %d, W %d, borrowed %v, lent %v, %d bytes", size, c.R, c.W, c.borrowed, c.lent, len(c.B))
			}
			p.poison(c.B)
			got[i] = c
		}
		for _, c := range got[:k] {
			Put(c)
		}
	}
}

// step is the poisoning between two steps of a check: the classes up to chunkTarget, one class a step in
// turn (all of them at every step is too slow under -race, the pools dropping a quarter of what is put
// there and so allocating all the time).
func (p *modelPoisoner) step(rt *rapid.T) {
	size := 1 << (minClassShift + 2*(p.round%(classOf(chunkTarget)+1)))
	p.pools(rt, size, size)
}

// poison overwrites the first 256 bytes of b (where the bytes of a small write or read land in a fresh
// chunk), then every 61st byte, from an offset that changes at each call.
func (p *modelPoisoner) poison(b []byte) {
	copy(b[:min(len(b), 256)], modelPoisonBuf)
	p.round++
	for i := 256 + p.round%61; i < len(b); i += 61 {
		b[i] = 0xEE
	}
}

// vecsEqual reports whether vecs concatenate to want, and if not the first byte that differs.
func vecsEqual(vecs [][]byte, want []byte) (bool, int) {
	at := 0
	for _, v := range vecs {
		if len(v) > len(want)-at {
			return false, at + firstDiff(v, want[at:])
		}
		if !bytes.Equal(v, want[at:at+len(v)]) {
			return false, at + firstDiff(v, want[at:])
		}
		at += len(v)
	}
	return at == len(want), at
}

func modelShow(b []byte) string {
	if len(b) <= 32 {
		return fmt.Sprintf("%q", b)
	}
	return fmt.Sprintf("%d bytes %q...", len(b), b[:32])
}

// firstDiff returns the index of the first byte where a and b differ.
func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// modelFill sets every byte of b to v.
func modelFill(b []byte, v byte) {
	if len(b) == 0 {
		return
	}
	b[0] = v
	for k := 1; k < len(b); k *= 2 {
		copy(b[k:], b[:k])
	}
}

// ---- Inbound ----

// heldSlice is a slice an Inbound returned, with the bytes it must still hold while it is valid.
type heldSlice struct {
	b, want []byte
	op      string
	end     int // Peek: the stream position after its last byte; it is valid until the stream is consumed past it
	next    bool
}

type modelInConn struct {
	in    Inbound
	model []byte // the unconsumed bytes
	pos   int    // bytes consumed so far
	held  []heldSlice
	// nexted: a Next in this callback returned bytes, which may hold drained storage back until Keep
	nexted bool
}

// checkReleased checks, after bytes were consumed in a callback, that drained storage went back at once
// unless a Next slice may point into it (Inbound.Consume).
func (c *modelInConn) checkReleased(rt *rapid.T, op string) {
	if len(c.model) == 0 && !c.nexted && c.in.own != nil {
		rt.Fatalf("%s drained the buffer, with no Next in this callback, but it still holds a chunk of %d bytes", op, len(c.in.own.B))
	}
}

func (c *modelInConn) consumed(n int) {
	c.model = c.model[n:]
	c.pos += n
	kept := c.held[:0]
	for _, h := range c.held {
		if h.next || c.pos < h.end {
			kept = append(kept, h)
		}
	}
	c.held = kept
}

func (c *modelInConn) hold(rt *rapid.T, op string, b []byte, next bool) {
	if cap(b) != len(b) {
		rt.Fatalf("%s returned a slice of length %d and capacity %d: an append to it could write over the input", op, len(b), cap(b))
	}
	if len(b) > 0 {
		c.held = append(c.held, heldSlice{b: b, want: append([]byte(nil), b...), op: op, end: c.pos + len(b), next: next})
	}
}

// wantPeek is Peek's documented result on the unconsumed bytes m.
func wantPeek(m []byte, n int) ([]byte, error) {
	switch {
	case n <= 0:
		return m, nil
	case n > len(m):
		return m, io.ErrShortBuffer
	}
	return m[:n], nil
}

// TestInboundMatchesModel runs random sequences of Inbound's operations, on two connections that share
// the loop's borrow chunk and read buffer as an engine's do: between callbacks, Append (received while
// paused) and Reset; a callback begins with or without an Add of a read, runs Peek, Next, Discard and
// Consume, and ends with Keep, after which the loop reuses its read buffer (the test overwrites it). Checked
// after every step: Len, Bytes, every result against the model, and that every slice returned and still
// documented valid (a Next slice until Keep, a Peek slice until its bytes are consumed) still holds its
// bytes; an Inbound that ended a callback with nothing buffered holds no chunk, and never the borrow chunk.
func TestInboundMatchesModel(t *testing.T) {
	readBuf := make([]byte, modelMaxSize) // the loop's read buffer
	rapid.Check(t, func(rt *rapid.T) {
		var sh Chunk
		var poisoner modelPoisoner
		sizes := modelSizes(rt)
		readLen := 0 // how much of readBuf the last read filled
		conns := []*modelInConn{{}, {}}
		active := -1 // the connection whose callback runs
		connID := rapid.IntRange(0, len(conns)-1)
		count := func(rt *rapid.T, label string, have int) int {
			switch rapid.IntRange(0, 5).Draw(rt, label+" kind") {
			case 0:
				return rapid.IntRange(-3, 0).Draw(rt, label)
			case 1:
				return have
			case 2:
				return have + rapid.IntRange(1, 5000).Draw(rt, label)
			case 3: // all but a few: a partial frame left
				return rapid.IntRange(max(0, have-20), have).Draw(rt, label)
			}
			return rapid.IntRange(0, have).Draw(rt, label)
		}
		inCallback := func(rt *rapid.T) *modelInConn {
			if active < 0 {
				rt.Skip("no callback runs")
			}
			return conns[active]
		}
		begin := func(rt *rapid.T) *modelInConn {
			if active >= 0 {
				rt.Skip("a callback runs")
			}
			active = connID.Draw(rt, "conn")
			return conns[active]
		}
		keep := func(rt *rapid.T, c *modelInConn) {
			large := c.in.own != nil && len(c.in.own.B) > chunkTarget
			poisoner.saw(c.in.own)
			c.in.Keep()
			active = -1
			c.held = c.held[:0]
			c.nexted = false
			modelFill(readBuf[:readLen], 0xEE) // the loop reads into its buffer again
			if c.in.own != nil && (c.in.own == &sh || c.in.own.borrowed) {
				rt.Fatal("after Keep the Inbound still holds the loop's borrow chunk")
			}
			if c.in.own != nil && c.in.own.Len() == 0 {
				rt.Fatalf("after Keep with nothing buffered the Inbound holds a chunk of %d bytes", len(c.in.own.B))
			}
			if c.in.own != nil && c.in.own.lent {
				rt.Fatal("after Keep the Inbound's chunk is still marked as lent to a Next slice")
			}
			if large { // a chunk that Keep traded for a smaller one must be in the pool once
				poisoner.large(rt)
			}
		}
		next := func(rt *rapid.T, c *modelInConn, n int) {
			got, err := c.in.Next(n)
			want, wantErr := wantPeek(c.model, n)
			if !bytes.Equal(got, want) || err != wantErr {
				rt.Fatalf("Next(%d) = %s, %v; want %s, %v", n, modelShow(got), err, modelShow(want), wantErr)
			}
			c.hold(rt, fmt.Sprintf("Next(%d)", n), got, true)
			c.consumed(len(want))
			c.nexted = c.nexted || len(want) > 0
			c.checkReleased(rt, "Next")
		}
		discard := func(rt *rapid.T, c *modelInConn, n int) {
			want := n
			if n < 0 || n > len(c.model) {
				want = len(c.model)
			}
			if got := c.in.Discard(n); got != want {
				rt.Fatalf("Discard(%d) = %d, want %d (%d buffered)", n, got, want, len(c.model))
			}
			c.consumed(want)
			c.checkReleased(rt, "Discard")
		}
		add := func(rt *rapid.T, c *modelInConn, b []byte) {
			n := copy(readBuf, b)
			readLen = n
			c.in.Add(&sh, readBuf[:n])
			c.model = append(c.model, b...)
		}
		rt.Repeat(map[string]func(*rapid.T){
			"add and begin a callback": func(rt *rapid.T) {
				add(rt, begin(rt), modelBytes(rt, sizes, "read"))
			},
			// Two whole callbacks, for the chains that make Keep trade a large chunk for a small one.
			"callback: a burst read, a little of it consumed": func(rt *rapid.T) {
				c := begin(rt)
				add(rt, c, modelBytes(rt, modelBurstSizes, "read"))
				next(rt, c, rapid.IntRange(0, 3000).Draw(rt, "n"))
				keep(rt, c)
			},
			"callback: all but a few bytes consumed": func(rt *rapid.T) {
				c := begin(rt)
				n := rapid.IntRange(max(0, len(c.model)-100), len(c.model)).Draw(rt, "n")
				if rapid.Bool().Draw(rt, "with Next") {
					next(rt, c, n)
				} else {
					discard(rt, c, n)
				}
				keep(rt, c)
			},
			"begin a callback without input": func(rt *rapid.T) {
				begin(rt)
			},
			"keep (the callback returns)": func(rt *rapid.T) {
				keep(rt, inCallback(rt))
			},
			"append (outside a callback)": func(rt *rapid.T) {
				if active >= 0 {
					rt.Skip("a callback runs")
				}
				c := conns[connID.Draw(rt, "conn")]
				b := modelBytes(rt, sizes, "append")
				c.in.Append(b)
				c.model = append(c.model, b...)
			},
			"reset (outside a callback)": func(rt *rapid.T) {
				if active >= 0 {
					rt.Skip("a callback runs")
				}
				c := conns[connID.Draw(rt, "conn")]
				c.in.Reset()
				c.pos += len(c.model)
				c.model = nil
				c.held = c.held[:0]
			},
			"peek": func(rt *rapid.T) {
				c := inCallback(rt)
				n := count(rt, "n", len(c.model))
				got, err := c.in.Peek(n)
				want, wantErr := wantPeek(c.model, n)
				if !bytes.Equal(got, want) || err != wantErr {
					rt.Fatalf("Peek(%d) = %s, %v; want %s, %v", n, modelShow(got), err, modelShow(want), wantErr)
				}
				c.hold(rt, fmt.Sprintf("Peek(%d)", n), got, false)
			},
			"next": func(rt *rapid.T) {
				c := inCallback(rt)
				next(rt, c, count(rt, "n", len(c.model)))
			},
			"discard": func(rt *rapid.T) {
				c := inCallback(rt)
				discard(rt, c, count(rt, "n", len(c.model)))
			},
			"consume": func(rt *rapid.T) {
				c := inCallback(rt)
				n := rapid.IntRange(0, len(c.model)).Draw(rt, "n")
				c.in.Consume(n)
				c.consumed(n)
				c.checkReleased(rt, "Consume")
			},
			"other connections take large chunks": func(rt *rapid.T) {
				poisoner.large(rt)
			},
			"": func(rt *rapid.T) {
				poisoner.step(rt)
				for i, c := range conns {
					poisoner.saw(c.in.own)
					if got := c.in.Len(); got != len(c.model) {
						rt.Fatalf("conn %d: Len() = %d, want %d", i, got, len(c.model))
					}
					if got := c.in.Bytes(); !bytes.Equal(got, c.model) {
						rt.Fatalf("conn %d: Bytes() = %s, want %s (first difference at %d)", i, modelShow(got), modelShow(c.model), firstDiff(got, c.model))
					}
					for _, h := range c.held {
						if !bytes.Equal(h.b, h.want) {
							rt.Fatalf("conn %d: the slice %s returned, still valid, changed at byte %d: %s, was %s", i, h.op, firstDiff(h.b, h.want), modelShow(h.b), modelShow(h.want))
						}
					}
				}
			},
		})
		for _, c := range conns {
			c.in.Reset()
		}
	})
}

// ---- Outbound and Stage ----

type modelOutQueue struct {
	q       Outbound
	model   []byte   // the pending output
	vecs    [][]byte // the last Vectors, while valid
	vecsCat []byte
}

// TestOutboundMatchesModel runs random sequences of Outbound's operations on two queues that share a
// Stage, as the epoll loop's connections do: Write, WriteStaged, Vectors, a send (Consume of what the kernel
// takes of the vectors handed to it, 0 to all), Consume of any count up to Len, Own, Reset, and the end of a
// loop iteration (every queue Owns its staged bytes, the stage is reset and then overwritten). Checked
// after every step: Len, that the vectors concatenate to exactly the pending bytes in order (a prefix of
// them when capped by max), that none is empty, that the vectors handed out last still hold their bytes
// (until the queue's next Consume or Reset, across its writes, whatever the other queues do), and that the
// stage lends exactly what WriteStaged documents (Used).
func TestOutboundMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		size := rapid.SampledFrom([]int{0, 64, 1000, 9000, 64 << 10}).Draw(rt, "stage size")
		st := NewStage(size)
		stagePoison := bytes.Repeat([]byte{0xDD}, size)
		sizes := modelSizes(rt)
		var poisoner modelPoisoner
		qs := []*modelOutQueue{{}, {}}
		used, last := 0, -1 // the stage's model: bytes lent, and the queue whose tail is its last region
		queueID := rapid.IntRange(0, len(qs)-1)

		// The vectors handed out stay valid until the queue's next Consume or Reset (or, for staged bytes,
		// the stage's): a write appends after them, and the uring engine's send in flight relies on it.
		changed := func(i int) { qs[i].vecs, qs[i].vecsCat = nil, nil }
		write := func(i int, b []byte) {
			q := qs[i]
			q.q.Write(b)
			q.model = append(q.model, b...)
			if len(b) > 0 {
				if last == i {
					last = -1
				}
			}
		}
		writeStaged := func(i int, b []byte) {
			q := qs[i]
			q.q.WriteStaged(st, b)
			q.model = append(q.model, b...)
			if len(b) == 0 {
				return
			}
			switch {
			case len(q.model) == len(b) && len(b) <= size-used: // the queue was empty: a new region
				used += len(b)
				last = i
			case len(q.model) > len(b) && last == i && len(b) <= size-used: // the last region grows
				used += len(b)
			case last == i:
				last = -1
			}
		}
		consume := func(i, n int) {
			q := qs[i]
			q.q.Consume(n)
			q.model = q.model[n:]
			changed(i)
			if len(q.model) == 0 && last == i {
				last = -1
			}
		}
		vectors := func(rt *rapid.T, i, max int) [][]byte {
			q := qs[i]
			vecs := q.q.Vectors(nil, max)
			cat := bytes.Join(vecs, nil)
			if len(vecs) > max {
				rt.Fatalf("queue %d: Vectors(max %d) gave %d vectors", i, max, len(vecs))
			}
			for k, v := range vecs {
				if len(v) == 0 {
					rt.Fatalf("queue %d: Vectors gave an empty vector (%d of %d)", i, k, len(vecs))
				}
			}
			if !bytes.HasPrefix(q.model, cat) || len(vecs) < max && len(cat) != len(q.model) {
				rt.Fatalf("queue %d: Vectors(max %d) gave %d vectors of %s; want the pending %s (first difference at %d)", i, max, len(vecs), modelShow(cat), modelShow(q.model), firstDiff(cat, q.model))
			}
			q.vecs, q.vecsCat = vecs, cat
			return vecs
		}
		own := func(i int) {
			q := qs[i]
			q.q.Own()
			if last == i {
				last = -1
			}
			for _, c := range q.q.chunks {
				if c.borrowed {
					rt.Fatalf("queue %d holds a staged chunk after Own", i)
				}
			}
		}
		maxVecs := rapid.SampledFrom([]int{1, 2, 3, 1024})

		rt.Repeat(map[string]func(*rapid.T){
			"write": func(rt *rapid.T) {
				write(queueID.Draw(rt, "queue"), modelBytes(rt, sizes, "write"))
			},
			"write staged": func(rt *rapid.T) {
				writeStaged(queueID.Draw(rt, "queue"), modelBytes(rt, sizes, "write"))
			},
			"write a small reply staged": func(rt *rapid.T) { // the common case: listed twice, to be drawn more often
				writeStaged(queueID.Draw(rt, "queue"), modelBytes(rt, modelReplySizes, "write"))
			},
			"write a small reply staged, again": func(rt *rapid.T) {
				writeStaged(queueID.Draw(rt, "queue"), modelBytes(rt, modelReplySizes, "write"))
			},
			"vectors": func(rt *rapid.T) {
				vectors(rt, queueID.Draw(rt, "queue"), maxVecs.Draw(rt, "max"))
			},
			"send": func(rt *rapid.T) {
				i := queueID.Draw(rt, "queue")
				vecs := vectors(rt, i, maxVecs.Draw(rt, "max"))
				total := 0
				for _, v := range vecs {
					total += len(v)
				}
				consume(i, rapid.IntRange(0, total).Draw(rt, "taken"))
			},
			"consume": func(rt *rapid.T) {
				i := queueID.Draw(rt, "queue")
				consume(i, rapid.IntRange(0, len(qs[i].model)).Draw(rt, "n"))
			},
			"own": func(rt *rapid.T) {
				own(queueID.Draw(rt, "queue"))
			},
			"reset": func(rt *rapid.T) {
				i := queueID.Draw(rt, "queue")
				qs[i].q.Reset()
				qs[i].model = nil
				changed(i)
				if last == i {
					last = -1
				}
			},
			"many staged replies, each sent": func(rt *rapid.T) {
				// More regions than a block of stage headers, in one iteration, on a queue that is empty
				// between them; the other queues' staged bytes must stay where they are.
				i := queueID.Draw(rt, "queue")
				if len(qs[i].model) > 0 {
					rt.Skip("the queue holds bytes")
				}
				n := rapid.IntRange(1, 2*stageHeaderBlock+10).Draw(rt, "replies")
				p := modelPattern()
				for k := range n {
					writeStaged(i, p[k:k+1+k%3])
					consume(i, len(qs[i].model))
				}
			},
			"end of the iteration": func(rt *rapid.T) {
				for i, q := range qs {
					if len(q.model) > 0 && rapid.Bool().Draw(rt, fmt.Sprintf("flush %d", i)) {
						vecs := vectors(rt, i, 1024)
						consume(i, rapid.IntRange(0, len(bytes.Join(vecs, nil))).Draw(rt, fmt.Sprintf("taken %d", i)))
					}
					own(i)
					changed(i)
				}
				st.Reset()
				used, last = 0, -1
				copy(st.mem, stagePoison) // the next iteration's replies
			},
			"other connections take large chunks": func(rt *rapid.T) {
				poisoner.large(rt)
			},
			"": func(rt *rapid.T) {
				poisoner.step(rt)
				for _, q := range qs {
					for _, c := range q.q.chunks {
						poisoner.saw(c)
					}
				}
				if got := st.Used(); got != used {
					rt.Fatalf("stage Used() = %d, want %d", got, used)
				}
				for i, q := range qs {
					if got := q.q.Len(); got != len(q.model) {
						rt.Fatalf("queue %d: Len() = %d, want %d", i, got, len(q.model))
					}
					if ok, at := vecsEqual(q.vecs, q.vecsCat); !ok {
						rt.Fatalf("queue %d: the vectors handed out changed at byte %d: %s, were %s", i, at, modelShow(bytes.Join(q.vecs, nil)), modelShow(q.vecsCat))
					}
					if vecs := q.q.Vectors(nil, 1<<20); !func() bool { ok, _ := vecsEqual(vecs, q.model); return ok }() {
						got := bytes.Join(vecs, nil)
						rt.Fatalf("queue %d: the queued bytes are %s, want %s (first difference at %d)", i, modelShow(got), modelShow(q.model), firstDiff(got, q.model))
					}
				}
			},
		})
		for _, q := range qs {
			q.q.Reset()
		}
	})
}

// ---- Chunk pool ----

// TestChunkPoolModel takes and returns chunks of random sizes, and returns chunks the pools must not keep
// (a borrow chunk, chunks of no class size). A chunk Get returns is empty, holds at least the bytes asked
// for, is none of the chunks held (each holds its own tag, checked after every step) and never one of the
// chunks the pools must not keep.
func TestChunkPoolModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		type held struct {
			c   *Chunk
			tag byte
		}
		var hs []held
		never := map[*Chunk]bool{}
		tag := byte(0)
		size := rapid.OneOf(
			rapid.IntRange(-2, 600),
			rapid.IntRange(0, 40<<10),
			rapid.SampledFrom([]int{128, 129, 512, 513, 2048, 2049, 8192, 8193, 32 << 10, 32<<10 + 1}),
			rapid.IntRange(-2, 600),
			rapid.IntRange(0, 40<<10),
			rapid.SampledFrom([]int{128 << 10, 512 << 10, MaxPooled, MaxPooled + 1}),
		)
		rt.Repeat(map[string]func(*rapid.T){
			"get": func(rt *rapid.T) {
				n := size.Draw(rt, "n")
				c := Get(n)
				if len(c.B) < n || c.R != 0 || c.W != 0 || c.borrowed || c.lent {
					rt.Fatalf("Get(%d) gave %d bytes, R %d, W %d, borrowed %v, lent %v", n, len(c.B), c.R, c.W, c.borrowed, c.lent)
				}
				if never[c] {
					rt.Fatalf("Get(%d) gave a chunk that the pools must not keep (%d bytes)", n, len(c.B))
				}
				for _, h := range hs {
					if h.c == c {
						rt.Fatalf("Get(%d) gave a chunk that is in use", n)
					}
				}
				tag++
				modelFill(c.B, tag)
				c.R, c.W = rapid.IntRange(0, len(c.B)).Draw(rt, "r"), len(c.B) // dirty indexes: Put must clear them
				hs = append(hs, held{c, tag})
			},
			"put": func(rt *rapid.T) {
				if len(hs) == 0 {
					rt.Skip("nothing held")
				}
				k := rapid.IntRange(0, len(hs)-1).Draw(rt, "which")
				Put(hs[k].c)
				hs = append(hs[:k], hs[k+1:]...)
			},
			"put a chunk the pools must not keep": func(rt *rapid.T) {
				var c *Chunk
				switch rapid.IntRange(0, 2).Draw(rt, "kind") {
				case 0:
					c = &Chunk{B: make([]byte, 512), W: 10, borrowed: true} // a loop's borrow chunk
				case 1:
					c = &Chunk{B: make([]byte, rapid.SampledFrom([]int{0, 1, 200, 511, 513, 1000}).Draw(rt, "odd size"))}
				default:
					c = &Chunk{B: make([]byte, MaxPooled+1)}
				}
				never[c] = true
				Put(c)
			},
			"": func(rt *rapid.T) {
				for _, h := range hs {
					if n := bytes.Count(h.c.B, []byte{h.tag}); n != len(h.c.B) {
						rt.Fatalf("a held chunk of %d bytes changed: %d bytes are not its tag %#x", len(h.c.B), len(h.c.B)-n, h.tag)
					}
				}
			},
		})
		for _, h := range hs {
			Put(h.c)
		}
	})
}
