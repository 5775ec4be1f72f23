package buffer

import "testing"

// An Inbound never gave back the memory a burst made it grow to (found by review, session 20). Append
// grows the owned chunk to hold everything buffered (doubling past MaxPooled), and Keep released only a
// chunk fully drained: one with a few bytes left in it stayed at its peak size, for as long as the
// connection always had a partial frame buffered. A handler that waits (Peek) for a 1 MiB frame and then
// consumes it, with the first bytes of the next frame behind it, kept a 2 MiB chunk for a 10-byte
// leftover, and a 3 MiB frame an unpooled chunk of about 4 MiB: a server's memory was every connection's
// largest burst, not what its handlers left unconsumed. Keep now moves a small remainder of a large
// chunk to a chunk of its size.
func TestInboundGivesBackABurstsChunk(t *testing.T) {
	for _, frame := range []int{1 << 20, MaxPooled + 1<<20} {
		var in Inbound
		var sh Chunk
		read := make([]byte, 60_000) // the loop's read buffer (reads do not end on the frame boundary)
		got := 0
		for got < frame+10 { // the frame arrives in reads; the handler Peeks and waits for all of it
			n := min(len(read), frame+10-got)
			in.Add(&sh, read[:n])
			if b, _ := in.Peek(frame); len(b) == frame {
				in.Next(frame) // the whole frame, consumed; the next one's first 10 bytes stay
			}
			in.Keep() // the callback has returned
			got += n
		}
		if in.Len() != 10 {
			t.Fatalf("frame %d: Len %d, want the 10 bytes of the next frame", frame, in.Len())
		}
		if held := len(in.own.B); held > 64<<10 {
			t.Errorf("frame of %d bytes consumed, 10 bytes kept: the connection still holds a chunk of %d bytes", frame, held)
		}
		in.Reset()
	}
}

// A slice that Next or Peek returned had the capacity of the rest of the chunk (found by review, session
// 20): a handler that appended to it (reply := append(line, '\n')) wrote over the input buffered behind
// it, a pipelined request say, or into the free space the next read fills. Its capacity is its length now.
func TestInboundSlicesDoNotReachTheInputBehind(t *testing.T) {
	var in Inbound
	in.Append([]byte("first second"))
	line, _ := in.Next(5)
	_ = append(line, "XXXXXXX"...)
	peeked, _ := in.Peek(3)
	_ = append(peeked, "YYYYYYY"...)
	if got := string(in.Bytes()); got != " second" {
		t.Errorf("the input behind the slices after appends to them: %q, want %q", got, " second")
	}
	all, _ := in.Peek(0)
	all = append(all, "ZZZ"...)
	in.Append([]byte("!"))
	if got := string(all); got != " secondZZZ" {
		t.Errorf("an appended copy of the whole input: %q", got)
	}
	in.Reset()
}
