package buffer

import (
	"bytes"
	"fmt"
	"testing"

	"pgregory.net/rapid"
)

// A second model of the package (session 30), from the side of a loop that runs handlers: connections
// each with an Inbound and an Outbound, one borrow chunk and read buffer and one Stage for all of them, and
// handlers that echo what they take with Next into their own queue or another connection's (a proxy), so
// that the chunks the pools hand back are reused by the same goroutine's next writes, as on a loop. Unlike
// model_test.go's, the slices Next returns are overwritten by the test (with a tag of their own) as soon
// as they are returned, and checked to still hold the tag until Keep: an echo writes the very bytes the
// slice holds, so a chunk reused while the slice is valid could still compare equal to what it held, but
// not to a tag no write ever stores.

// rvNextSlice is a slice Next returned, overwritten with its tag; it must hold it until Keep.
type rvNextSlice struct {
	b   []byte
	tag byte
	op  string
}

// rvPeekSlice is a slice Peek returned: each of its bytes must stay as it was until it is consumed (the
// test overwrites the bytes Next returns) or the callback returns.
type rvPeekSlice struct {
	b, want []byte
	start   int // the stream position of its first byte
	op      string
}

type rvConn struct {
	in      Inbound
	inModel []byte // unconsumed input
	pos     int    // input consumed so far
	out     Outbound
	outQ    []byte // pending output
	paused  bool   // reading paused: reads are appended, outside a callback
	nexts   []rvNextSlice
	peeks   []rvPeekSlice
	vecs    [][]byte // the vectors handed to the last send, valid until the queue's next Consume or Reset
	vecsCat []byte
}

func (c *rvConn) consumed(n int) {
	c.inModel = c.inModel[n:]
	c.pos += n
	kept := c.peeks[:0]
	for _, p := range c.peeks {
		if c.pos < p.start+len(p.b) {
			kept = append(kept, p)
		}
	}
	c.peeks = kept
}

// TestLoopModel runs random sequences of a loop's steps over three connections: reads (borrowed by
// the callback they begin, or appended while reading is paused), callbacks that Peek, Next, Discard and
// echo what Next returns (Write or WriteStaged, in a Writev's pieces, to any connection's queue) and end
// with Keep (the loop then reuses its read buffer), sends (Vectors, of which the kernel takes any count,
// at once or later while more is written), the end of an iteration (Own, the stage reset and
// overwritten), closes (Reset) and other connections taking chunks. Checked after every step against
// []byte models: Len and the bytes of every Inbound and Outbound, that every Next slice still holds its
// tag until Keep, every Peek slice its unconsumed bytes, the vectors of a send in flight theirs, and that
// no connection outside its callback holds an empty chunk.
func TestLoopModel(t *testing.T) {
	readBuf := make([]byte, 300<<10)
	rapid.Check(t, func(rt *rapid.T) {
		var sh Chunk
		stSize := rapid.SampledFrom([]int{0, 100, 4096, 64 << 10}).Draw(rt, "stage size")
		st := NewStage(stSize)
		sizes := rapid.OneOf(
			rapid.IntRange(0, 3),
			rapid.IntRange(0, 130),
			rapid.SampledFrom([]int{127, 128, 129, 511, 512, 513, 2047, 2048, 2049, 8191, 8192, 8193, chunkTarget - 1, chunkTarget, chunkTarget + 1}),
			rapid.IntRange(0, 5000),
			rapid.IntRange(30<<10, 100<<10),
		)
		if rapid.IntRange(0, 9).Draw(rt, "bursts") == 0 {
			sizes = rapid.OneOf(sizes, rapid.IntRange(chunkTarget*8, 300<<10))
		}
		conns := []*rvConn{{}, {}, {}}
		connID := rapid.IntRange(0, len(conns)-1)
		active := -1
		readLen := 0
		tag := byte(0)
		var p modelPoisoner
		pattern := modelPattern()
		draw := func(rt *rapid.T, label string) []byte {
			n := sizes.Draw(rt, label+" size")
			off := rapid.IntRange(0, len(pattern)-n).Draw(rt, label+" offset")
			return pattern[off : off+n : off+n]
		}
		count := func(rt *rapid.T, have int) int {
			switch rapid.IntRange(0, 4).Draw(rt, "n kind") {
			case 0:
				return rapid.IntRange(-2, 0).Draw(rt, "n")
			case 1:
				return have
			case 2:
				return have + rapid.IntRange(1, 300).Draw(rt, "n")
			}
			return rapid.IntRange(0, have).Draw(rt, "n")
		}
		callback := func(rt *rapid.T) *rvConn {
			if active < 0 {
				rt.Skip("no callback runs")
			}
			return conns[active]
		}
		outside := func(rt *rapid.T) {
			if active >= 0 {
				rt.Skip("a callback runs")
			}
		}
		reuseReadBuf := func() { modelFill(readBuf[:readLen], 0xAB) }
		// write queues b on conn i, staged (as epoll's Write) or not (behind a file region, uring, std).
		write := func(rt *rapid.T, i int, b []byte) {
			c := conns[i]
			if rapid.Bool().Draw(rt, "staged") {
				c.out.WriteStaged(st, b)
			} else {
				c.out.Write(b)
			}
			c.outQ = append(c.outQ, b...)
		}
		next := func(rt *rapid.T, c *rvConn, n int) []byte {
			got, err := c.in.Next(n)
			want, wantErr := wantPeek(c.inModel, n)
			if !bytes.Equal(got, want) || err != wantErr {
				rt.Fatalf("Next(%d) = %s, %v; want %s, %v", n, modelShow(got), err, modelShow(want), wantErr)
			}
			if len(got) != cap(got) {
				rt.Fatalf("Next(%d): length %d, capacity %d", n, len(got), cap(got))
			}
			c.consumed(len(want))
			return got
		}
		holdNext := func(c *rvConn, b []byte, op string) {
			if len(b) == 0 {
				return
			}
			tag++
			if tag == 0 || tag == 0xEE || tag == 0xAB || tag == 0xDD {
				tag++
			}
			modelFill(b, tag)
			c.nexts = append(c.nexts, rvNextSlice{b: b, tag: tag, op: op})
		}
		keep := func(rt *rapid.T, c *rvConn) {
			p.saw(c.in.own)
			c.in.Keep()
			active = -1
			c.nexts, c.peeks = c.nexts[:0], c.peeks[:0]
			reuseReadBuf()
			if o := c.in.own; o != nil && (o.borrowed || o.Len() == 0 || o.lent) {
				rt.Fatalf("after Keep: own holds %d bytes, borrowed %v, lent %v", o.Len(), o.borrowed, o.lent)
			}
		}
		// taken consumes what the kernel took of the vectors handed to it: any count, or one next to a
		// vector's end.
		taken := func(rt *rapid.T, c *rvConn) {
			n := rapid.IntRange(0, len(c.vecsCat)).Draw(rt, "taken")
			if rapid.Bool().Draw(rt, "at a boundary") {
				end := 0
				for _, v := range c.vecs[:rapid.IntRange(0, len(c.vecs)).Draw(rt, "vectors")] {
					end += len(v)
				}
				n = min(len(c.vecsCat), max(0, end+rapid.IntRange(-1, 1).Draw(rt, "off")))
			}
			c.out.Consume(n)
			c.outQ = c.outQ[n:]
			c.vecs, c.vecsCat = nil, nil
		}
		send := func(rt *rapid.T, i int) {
			c := conns[i]
			max := rapid.SampledFrom([]int{1, 2, 1024}).Draw(rt, "max vecs")
			vecs := c.out.Vectors(nil, max)
			cat := bytes.Join(vecs, nil)
			if len(vecs) > max || !bytes.HasPrefix(c.outQ, cat) || len(vecs) < max && len(cat) != len(c.outQ) {
				rt.Fatalf("conn %d: Vectors(max %d) = %d vectors of %s; pending %s", i, max, len(vecs), modelShow(cat), modelShow(c.outQ))
			}
			for _, v := range vecs {
				if len(v) == 0 {
					rt.Fatalf("conn %d: an empty vector", i)
				}
			}
			c.vecs, c.vecsCat = vecs, cat
			if rapid.Bool().Draw(rt, "in flight") {
				return // the send completes later (uring): the vectors stay valid across writes
			}
			taken(rt, c)
		}
		// read reads into the loop's buffer for conn i: the bytes are borrowed by a callback that begins, or
		// appended while reading is paused. It reports whether a callback began.
		read := func(rt *rapid.T, i int) bool {
			c := conns[i]
			b := draw(rt, "read")
			readLen = copy(readBuf, b)
			c.inModel = append(c.inModel, b...)
			if c.paused {
				c.in.Append(readBuf[:readLen])
				reuseReadBuf()
				return false
			}
			c.in.Add(&sh, readBuf[:readLen])
			active = i
			return true
		}
		// echo takes n bytes with Next and writes them, in pieces, to a connection's queue: its own, or a
		// proxy's peer.
		echo := func(rt *rapid.T, c *rvConn, n int) {
			b := next(rt, c, n)
			to := connID.Draw(rt, "to")
			for len(b) > 0 || rapid.Bool().Draw(rt, "empty write") {
				k := rapid.IntRange(0, len(b)).Draw(rt, "piece") // a Writev's pieces
				write(rt, to, b[:k])
				holdNext(c, b[:k], fmt.Sprintf("Next(%d), echoed", n))
				b = b[k:]
				if len(b) == 0 {
					break
				}
			}
		}

		rt.Repeat(map[string]func(*rapid.T){
			"read": func(rt *rapid.T) {
				outside(rt)
				read(rt, connID.Draw(rt, "conn"))
			},
			// Whole callbacks, for the chains that leave kept bytes, then drain them with Next while the
			// writes of the same callback take chunks from the pools.
			"callback: a read, all but a few bytes consumed": func(rt *rapid.T) {
				outside(rt)
				i := connID.Draw(rt, "conn")
				c := conns[i]
				if read(rt, i) {
					n := rapid.IntRange(max(0, len(c.inModel)-300), len(c.inModel)).Draw(rt, "n")
					echo(rt, c, n)
					keep(rt, c)
				}
			},
			"callback: the kept bytes echoed": func(rt *rapid.T) {
				outside(rt)
				i := connID.Draw(rt, "conn")
				c := conns[i]
				if c.paused || len(c.inModel) == 0 {
					rt.Skip("paused, or nothing kept")
				}
				active = i
				echo(rt, c, rapid.SampledFrom([]int{-1, len(c.inModel), len(c.inModel) / 2}).Draw(rt, "n"))
			},
			"redeliver (a callback without a read)": func(rt *rapid.T) {
				outside(rt)
				i := connID.Draw(rt, "conn")
				if conns[i].paused {
					rt.Skip("paused")
				}
				active = i
			},
			"pause or resume": func(rt *rapid.T) {
				outside(rt)
				c := conns[connID.Draw(rt, "conn")]
				c.paused = !c.paused
			},
			"next": func(rt *rapid.T) {
				c := callback(rt)
				n := count(rt, len(c.inModel))
				holdNext(c, next(rt, c, n), fmt.Sprintf("Next(%d)", n))
			},
			"echo what Next returns": func(rt *rapid.T) {
				c := callback(rt)
				echo(rt, c, count(rt, len(c.inModel)))
			},
			"peek": func(rt *rapid.T) {
				c := callback(rt)
				n := count(rt, len(c.inModel))
				got, err := c.in.Peek(n)
				want, wantErr := wantPeek(c.inModel, n)
				if !bytes.Equal(got, want) || err != wantErr || len(got) != cap(got) {
					rt.Fatalf("Peek(%d) = %s (cap %d), %v; want %s, %v", n, modelShow(got), cap(got), err, modelShow(want), wantErr)
				}
				if len(got) > 0 {
					c.peeks = append(c.peeks, rvPeekSlice{b: got, want: append([]byte(nil), got...), start: c.pos, op: fmt.Sprintf("Peek(%d)", n)})
				}
			},
			"discard": func(rt *rapid.T) {
				c := callback(rt)
				n := count(rt, len(c.inModel))
				want := n
				if n < 0 || n > len(c.inModel) {
					want = len(c.inModel)
				}
				if got := c.in.Discard(n); got != want {
					rt.Fatalf("Discard(%d) = %d, want %d", n, got, want)
				}
				c.consumed(want)
			},
			"write": func(rt *rapid.T) {
				write(rt, connID.Draw(rt, "conn"), draw(rt, "write"))
			},
			"small replies, staged, to several connections": func(rt *rapid.T) {
				for range rapid.IntRange(1, 6).Draw(rt, "replies") {
					i := connID.Draw(rt, "conn")
					b := modelBytes(rt, modelReplySizes, "reply")
					conns[i].out.WriteStaged(st, b)
					conns[i].outQ = append(conns[i].outQ, b...)
				}
			},
			"keep (the callback returns)": func(rt *rapid.T) {
				keep(rt, callback(rt))
			},
			// Sends are made between callbacks on the loop engines, by a writer goroutine on std; the
			// queue does not tell, so they are drawn at any step.
			"send": func(rt *rapid.T) {
				send(rt, connID.Draw(rt, "conn"))
			},
			"send completes": func(rt *rapid.T) {
				i := connID.Draw(rt, "conn")
				c := conns[i]
				if c.vecs == nil {
					rt.Skip("no send in flight")
				}
				taken(rt, c)
			},
			"end of the iteration": func(rt *rapid.T) {
				outside(rt)
				for _, c := range conns {
					c.out.Own()
					for _, ch := range c.out.chunks {
						if ch.borrowed {
							rt.Fatal("a staged chunk is left after Own")
						}
					}
					c.vecs, c.vecsCat = nil, nil // to keep the check simple: vectors into the stage end here
				}
				st.Reset()
				modelFill(st.mem, 0xDD)
			},
			"close (reset both buffers)": func(rt *rapid.T) {
				outside(rt)
				c := conns[connID.Draw(rt, "conn")]
				p.saw(c.in.own)
				c.in.Reset()
				c.out.Reset()
				c.pos += len(c.inModel)
				c.inModel, c.outQ, c.vecs, c.vecsCat = nil, nil, nil, nil
				if c.in.own != nil || c.out.Len() != 0 || len(c.out.chunks) != 0 {
					rt.Fatal("Reset left storage behind")
				}
			},
			"other connections take chunks": func(rt *rapid.T) {
				p.pools(rt, 0, chunkTarget)
				p.large(rt)
			},
			"": func(rt *rapid.T) {
				p.step(rt) // other connections take and write chunks of one small class
				for i, c := range conns {
					if got := c.in.Len(); got != len(c.inModel) {
						rt.Fatalf("conn %d: Inbound Len %d, want %d", i, got, len(c.inModel))
					}
					if got := c.in.Bytes(); !bytes.Equal(got, c.inModel) {
						rt.Fatalf("conn %d: Inbound holds %s, want %s (first difference at %d)", i, modelShow(got), modelShow(c.inModel), firstDiff(got, c.inModel))
					}
					if active != i && c.in.own != nil && c.in.own.Len() == 0 {
						rt.Fatalf("conn %d: outside its callback, an empty Inbound holds a chunk of %d bytes", i, len(c.in.own.B))
					}
					for _, s := range c.nexts {
						if k := bytes.Count(s.b, []byte{s.tag}); k != len(s.b) {
							rt.Fatalf("conn %d: the slice of %s (%d bytes) changed before Keep: %d bytes are not its tag", i, s.op, len(s.b), len(s.b)-k)
						}
					}
					for _, s := range c.peeks {
						k := max(0, c.pos-s.start) // the bytes consumed since may have been overwritten
						if !bytes.Equal(s.b[k:], s.want[k:]) {
							rt.Fatalf("conn %d: the slice of %s changed while valid, at byte %d", i, s.op, k+firstDiff(s.b[k:], s.want[k:]))
						}
					}
					if got := c.out.Len(); got != len(c.outQ) {
						rt.Fatalf("conn %d: Outbound Len %d, want %d", i, got, len(c.outQ))
					}
					if ok, at := vecsEqual(c.out.Vectors(nil, 1<<20), c.outQ); !ok {
						rt.Fatalf("conn %d: Outbound holds other bytes than were written, from byte %d", i, at)
					}
					if ok, at := vecsEqual(c.vecs, c.vecsCat); !ok {
						rt.Fatalf("conn %d: the vectors of the send in flight changed at byte %d", i, at)
					}
					for _, ch := range c.out.chunks {
						p.saw(ch)
					}
				}
			},
		})
		if active >= 0 {
			keep(rt, conns[active])
		}
		for _, c := range conns {
			c.in.Reset()
			c.out.Reset()
		}
	})
}

// ---- allocations: the pooled paths take back what they give ----

// rvNoAllocs fails when fn allocates in steady state: every chunk it takes must go back to its pool. The
// race detector's sync.Pool drops a quarter of what it is given, so the count is only meaningful without
// it.
func rvNoAllocs(t *testing.T, what string, fn func()) {
	t.Helper()
	if raceOn {
		t.Skip("sync.Pool drops chunks at random under the race detector")
	}
	fn()
	if n := testing.AllocsPerRun(200, fn); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0 (a chunk is not given back to its pool)", what, n)
	}
}

func TestPooledPathsAllocateNothing(t *testing.T) {
	read := bytes.Repeat([]byte("0123456789"), 30<<10) // 300 KiB
	t.Run("inbound partial frame kept across reads", func(t *testing.T) {
		var in Inbound
		var sh Chunk
		rvNoAllocs(t, "Add, Next of part, Keep (copy out), Add (append, grow), Next of all, Keep", func() {
			in.Add(&sh, read[:100])
			in.Next(60)
			in.Keep()
			in.Add(&sh, read[:1000])
			in.Next(-1)
			in.Keep()
		})
	})
	t.Run("inbound burst traded for a small chunk", func(t *testing.T) {
		var in Inbound
		var sh Chunk
		rvNoAllocs(t, "a 100 KiB burst, all but 10 bytes consumed, Keep, the rest consumed", func() {
			in.Add(&sh, read[:100<<10])
			in.Keep()
			in.Next(100<<10 - 10)
			in.Keep()
			in.Discard(-1)
			in.Keep()
		})
	})
	t.Run("inbound reset with a lent chunk", func(t *testing.T) {
		var in Inbound
		rvNoAllocs(t, "Append, Next, Reset", func() {
			in.Append(read[:500])
			in.Next(-1)
			in.Reset()
		})
	})
	t.Run("outbound partial sends over several chunks", func(t *testing.T) {
		var q Outbound
		var iov [2][]byte
		rvNoAllocs(t, "100 KiB written, sent in pieces", func() {
			q.Write(read[:100<<10])
			for q.Len() > 0 {
				vecs := q.Vectors(iov[:0], len(iov))
				q.Consume(min(q.Len(), len(vecs[0])/2+1))
			}
		})
	})
	t.Run("staged bytes owned and sent later", func(t *testing.T) {
		st := NewStage(4096)
		var q Outbound
		rvNoAllocs(t, "WriteStaged, partial send, Own, stage reset, the rest sent", func() {
			q.WriteStaged(st, read[:300])
			q.WriteStaged(st, read[:300])
			q.Consume(100)
			q.Own()
			st.Reset()
			q.Write(read[:50])
			q.Consume(q.Len())
		})
	})
}
