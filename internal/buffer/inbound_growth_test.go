package buffer

import (
	"runtime"
	"testing"
)

// An Inbound holding more than MaxPooled bytes (a handler waiting for a large frame with Peek) grows
// amortised, as append does. It grew to exactly what it held (Get gives an unpooled chunk of the size
// asked for), so every later Append, of however few bytes, allocated and copied everything buffered: a
// peer that sent 3 MiB and then trickled its frame's rest byte by byte made the loop copy 3 MiB per
// byte (found by a review in session 18).
func TestInboundGrowthPastMaxPooledIsAmortised(t *testing.T) {
	var in Inbound
	in.Append(make([]byte, MaxPooled+1<<20)) // 3 MiB buffered, unconsumed
	const trickle = 200
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	moves := 0
	p := &in.own.B[0]
	for i := 0; i < trickle; i++ {
		in.Append([]byte{'x'}) // one more byte of the frame
		if q := &in.own.B[0]; q != p {
			moves++
			p = q
		}
	}
	runtime.ReadMemStats(&after)
	if in.Len() != MaxPooled+1<<20+trickle {
		t.Fatalf("Len %d", in.Len())
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if moves > 10 {
		t.Fatalf("%d appends of 1 byte to a 3 MiB Inbound reallocated and copied it %d times (%d MiB allocated)", trickle, moves, alloc>>20)
	}
}
