package eddy_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// The std engine's reader goroutine spins while a connection whose output is above the high water mark
// closes (Close, the idle timeout, a Stop): waitOutputRoom (std_conn.go) sets redeliver and then skips
// its wait because c.closing is set, so it returns restarted = true every time, and readLoop takes the
// "offer the buffered input again" branch (which, closing, offers nothing) and goes round again without
// ever reading: a CPU busy until the output drains below the high water mark or the 2 s bound on a stuck
// flush aborts the connection. Measured as the process's CPU time (the test runs alone: no t.Parallel).
func TestNoSpinStdClosingAboveHighWater(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the process's CPU time")
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	h, opened := openedConns(func(c eddy.Conn) { c.Write(big) })
	s := startServer(t, eddy.EngineStd, h, eddy.WithWriteBufferWaterMarks(64<<10, 256<<10))
	p := lockLoops(t, s.e)
	c := s.dial(t)
	c.SetReadBuffer(64 << 10)
	sc := <-opened
	time.Sleep(100 * time.Millisecond)
	p.expectWaiting(t, "output above the high water mark, open")
	sc.Close()
	time.Sleep(100 * time.Millisecond)
	p.expectWaiting(t, "closing, output above the high water mark")
}
