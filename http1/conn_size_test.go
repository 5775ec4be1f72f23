package http1

import (
	"testing"
	"unsafe"
)

// TestConnSize: every connection, net/http-only servers included, holds a conn: it must stay in
// the 96-byte size class. What only native flow control needs lives in outFlow, made on first use.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 96 {
		t.Errorf("unsafe.Sizeof(conn{}) = %d, want at most 96", n)
	}
}
