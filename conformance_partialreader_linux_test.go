//go:build linux

package eddy_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A Unix stream socket's send queue (SIOCOUTQ: the bytes of the skbs the peer has not finished reading)
// shrinks one skb at a time, about 36 KiB of data on Linux here, and the writer is woken only once it is
// down to a quarter of the 208 KiB send buffer: a peer that takes 8 KiB every 80 ms (100 KiB/s) moves
// the queue every 0.4 s or so, and has the engine write again only every 1.8 s. With a 1 s flush
// timeout the engine's last write is then older than the timeout while the peer reads steadily: only
// the moving send queue (flushWatch's "the peer reads" branch) keeps the close waiting. Test readers that
// take all there is each period (TestCloseWaitsForASteadyUnixReader) have the engine write every
// period, so an engine that ignored the queue passed them.
const (
	suTimeout = time.Second           // the flush timeout
	suChunk   = 8 << 10               // what the reader takes each time
	suPause   = 80 * time.Millisecond // and how long it waits after
	suSlow    = 320 << 10             // the bytes read at that pace (about two writer wake-ups), then at full speed
	// suStep is what the peer must take to move the send queue for sure (more than one skb), within
	// suWindow, the least time flushWatch gives it (three quarters of the timeout).
	suStep   = 40 << 10
	suWindow = suTimeout * 3 / 4
)

// suRead is one read of the paced phase: when it returned and the bytes read so far.
type suRead struct {
	at    time.Time
	total int
}

// readPaced reads c, suChunk bytes at most per read with suPause after each, until suSlow bytes are in,
// then at full speed to its end. It returns the bytes, the error that ended them (io.EOF: a clean end)
// and the paced reads that returned bytes.
func readPaced(c net.Conn) ([]byte, error, []suRead) {
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	var got bytes.Buffer
	var reads []suRead
	buf := make([]byte, suChunk)
	fast := make([]byte, 1<<20)
	for {
		b := fast
		slow := got.Len() < suSlow
		if slow {
			b = buf
		}
		n, err := c.Read(b)
		got.Write(b[:n])
		if slow && n > 0 {
			reads = append(reads, suRead{time.Now(), got.Len()})
		}
		if err != nil {
			return got.Bytes(), err, reads
		}
		if slow {
			time.Sleep(suPause)
		}
	}
}

// lateWindow returns a window of suWindow in which the paced reader took less than suStep (this test's
// goroutine ran late: the peer did not keep its pace, and a cut proves nothing), or "".
func lateWindow(reads []suRead) string {
	if len(reads) == 0 {
		return ""
	}
	last := reads[len(reads)-1].at
	t0 := reads[0].at
	for i, r := range reads {
		end := r.at.Add(suWindow)
		if end.After(last) {
			break // the reads that follow are the paced phase's end (or a cut peer's remains)
		}
		j := i
		for j+1 < len(reads) && !reads[j+1].at.After(end) {
			j++
		}
		if took := reads[j].total - r.total; took < suStep {
			return fmt.Sprintf("from %.2f s on, the reader took %d KiB in %v", r.at.Sub(t0).Seconds(), took>>10, suWindow)
		}
	}
	return ""
}

// A graceful close must wait for a peer on a Unix socket that reads a little at a time, steadily, for
// longer than the flush timeout between the engine's writes, whether the output was written or is a
// file region: every byte arrives, then EOF, and OnClose(nil).
func TestCloseWaitsForAPartialUnixReader(t *testing.T) {
	if testing.Short() {
		t.Skip("reads slowly for about 3.5 s")
	}
	t.Parallel()
	data := pattern(1<<20, 13)
	path := writeFile(t, t.TempDir(), "file", data)
	for _, how := range []string{"Write", "SendFile"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
				t.Parallel()
				conclusive(t, "the reader ran late", func() bool {
					h, want := closingSender(how, data, path)
					_, addr := frStart(t, kind, h, "unix", t.TempDir(), eddy.WithFlushTimeout(suTimeout))
					c := frDial(t, "unix", addr, 0)
					got, err, reads := readPaced(c)
					if err == io.EOF && bytes.Equal(got, want) {
						if err := h.waitClosed(t, 5*time.Second); err != nil {
							t.Errorf("OnClose reason = %v, want nil", err)
						}
						return true
					}
					if late := lateWindow(reads); late != "" {
						t.Logf("the peer read %d of %d bytes, then %v; but %s", len(got), len(want), err, late)
						return false
					}
					t.Errorf("the peer read %d of %d bytes (identical prefix %v), then %v; want all of them and EOF",
						len(got), len(want), bytes.HasPrefix(want, got), err)
					if err := h.waitClosed(t, 5*time.Second); err != nil {
						t.Logf("OnClose reason = %v", err)
					}
					return true
				})
			})
		})
	}
}
