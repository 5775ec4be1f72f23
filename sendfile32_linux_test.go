package eddy

import (
	"math"
	"testing"
)

// The loop engines' count of the output queue (connCore.queued), with a region past 2 GiB: see
// sendfile32_test.go.
func TestConnCoreQueuedPast32Bits(t *testing.T) {
	var c connCore
	c.out.Write([]byte("head"))
	x := c.extra()
	x.files = fileQueue{{n: region32, total: region32}}
	x.splice = &urSplice{inPipe: 64 << 10}
	if got, want := c.queued(), 4+region32+64<<10; got != want {
		t.Fatalf("queued() = %d, want %d", got, want)
	}
	if got, want := c.OutboundBuffered(), int(min(4+region32+64<<10, math.MaxInt)); got != want {
		t.Fatalf("OutboundBuffered() = %d, want %d", got, want)
	}
}
