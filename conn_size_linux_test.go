package eddy

import (
	"testing"
	"unsafe"

	"github.com/eddyio/eddy/internal/buffer"
)

// TestEpollConnFitsItsSizeClass guards the idle memory of the epoll engine: an idle connection costs its
// epConn (rounded up to the allocator's 144-byte size class) plus its slot in the loop's tables, and the
// per-connection budget is 256 bytes of RSS. A field added to epConn that pushes it past 144 bytes costs
// every idle connection 16 bytes or more: move rarely used state to connExtra or connClock instead.
func TestEpollConnFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(epConn{}); n > 144 {
		t.Fatalf("epConn is %d bytes, more than the 144-byte size class", n)
	}
	if n := unsafe.Sizeof(buffer.Inbound{}); n != unsafe.Sizeof(uintptr(0)) {
		t.Fatalf("buffer.Inbound is %d bytes, want one pointer", n)
	}
}
