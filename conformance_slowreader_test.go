package eddy_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A graceful close waits for a peer that reads slowly but steadily, however long that takes: the bound
// on a stuck flush is for a peer that stopped reading. The kernel's send buffer (up to 4 MiB here)
// hides the peer's reading from the engine, which sees room only once a third of it has drained, so
// the engine's own output does not move for seconds at a time while the peer reads on.
//
// The flush timeout is closeWaitsTimeout, not the 10 s default: the engine's output must stand still for
// longer than the timeout while the peer reads, or an engine that took no notice of the reading (gave
// up the timeout after its last write) would pass, as it did with the default (review h70).
func TestCloseWaitsForASlowSteadyReader(t *testing.T) {
	if testing.Short() {
		t.Skip("reads for about 5 s")
	}
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel()
		h := &blastHandler{counter: newCounter(), size: 12 << 20, closeAfter: true}
		s := startServer(t, kind, h, eddy.WithFlushTimeout(closeWaitsTimeout))
		c := s.dial(t)
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		var got bytes.Buffer
		buf := make([]byte, 16<<10)
		for { // about 320 KiB a second: 16 KiB every 50 ms
			n, err := c.Read(buf)
			got.Write(buf[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("read: %v after %d bytes", err, got.Len())
			}
			if got.Len() > 3<<19 { // then faster, to keep the test short: the stall shows before
				continue
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !bytes.Equal(got.Bytes(), pattern(h.size, 42)) {
			t.Fatalf("got %d bytes, want %d identical ones", got.Len(), h.size)
		}
		if err := h.waitClosed(t, 5*time.Second); err != nil {
			t.Fatalf("OnClose reason = %v, want nil", err)
		}
	})
}

// closeWaitsTimeout is the flush timeout of the TestCloseWaitsFor tests: the peer has three quarters of
// it (1.5 s) to show that it reads, and the tests' readers read for several of it.
const closeWaitsTimeout = 2 * time.Second

// A peer's reads show in the sender's send queue only when its receiver opens the window again, which
// TCP does once a sizeable share of the receive buffer is free: a peer that reads in bursts, 192 KiB
// every 800 ms, leaves the queue still for 800 ms at a time. The engine must give such a reader more
// than one burst's time to show that it reads (flushWatch: 1.5 s) before it takes it for one that
// stopped; with the 500 ms it once gave, 4 runs of 15 cut the reader (all three engines; a check
// scheduled before a write and run after it still gave 500 ms, and cut one epoll run in 3). The flush
// timeout is closeWaitsTimeout (1.5 s to show it reads), as when the test was written.
func TestCloseWaitsForABurstyReader(t *testing.T) {
	if testing.Short() {
		t.Skip("reads for about 4 s")
	}
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel()
		h := &blastHandler{counter: newCounter(), size: 10 << 20, closeAfter: true}
		s := startServer(t, kind, h, eddy.WithFlushTimeout(closeWaitsTimeout))
		c := s.dial(t)
		c.SetReadDeadline(time.Now().Add(60 * time.Second))
		var got bytes.Buffer
		buf := make([]byte, 192<<10)
		for {
			n, err := io.ReadFull(c, buf)
			got.Write(buf[:n])
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				t.Fatalf("read: %v after %d bytes", err, got.Len())
			}
			if got.Len() < 3<<18 { // 768 KiB in bursts, then as fast as it comes
				time.Sleep(800 * time.Millisecond)
			}
		}
		if !bytes.Equal(got.Bytes(), pattern(h.size, 42)) {
			t.Fatalf("got %d bytes, want %d identical ones", got.Len(), h.size)
		}
		if err := h.waitClosed(t, 5*time.Second); err != nil {
			t.Fatalf("OnClose reason = %v, want nil", err)
		}
	})
}
