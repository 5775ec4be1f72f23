package eddy_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// readSlowly reads c at about 320 KiB/s (16 KiB every 50 ms) until slow bytes are in, then at full speed
// to EOF.
func readSlowly(t *testing.T, c net.Conn, slow int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(60 * time.Second))
	var got bytes.Buffer
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			return got.Bytes()
		}
		if err != nil {
			t.Fatalf("read: %v after %d bytes", err, got.Len())
		}
		if got.Len() < slow {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// A graceful close must wait for a peer that reads a SendFile region slowly but steadily, as it does for
// written bytes (TestCloseWaitsForASlowSteadyReader, whose flush timeout it takes).
func TestCloseWaitsForASlowReaderOfAFileRegion(t *testing.T) {
	if testing.Short() {
		t.Skip("reads slowly for about 6 s")
	}
	t.Parallel()
	data := pattern(12<<20, 9)
	path := writeFile(t, t.TempDir(), "big", data)
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel()
		h := newSendFileHandler([]sendPiece{{path: path, n: int64(len(data))}})
		s := startServer(t, kind, h, eddy.WithFlushTimeout(closeWaitsTimeout))
		c := s.dial(t)
		got := readSlowly(t, c, 2<<20)
		if !bytes.Equal(got, data) {
			t.Errorf("got %d bytes, want %d identical ones", len(got), len(data))
		}
		if err := h.waitClosed(t, 5*time.Second); err != nil {
			t.Errorf("OnClose reason = %v, want nil", err)
		}
	})
}

// readInBursts reads c to EOF, taking what is there every period (one read into a large buffer): a
// steady reader of about (the sender's socket buffer)/period.
func readInBursts(t *testing.T, c net.Conn, period time.Duration) []byte {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 4<<20)
	c.SetReadDeadline(time.Now().Add(90 * time.Second))
	for {
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			return got.Bytes()
		}
		if err != nil {
			t.Fatalf("read: %v after %d bytes", err, got.Len())
		}
		time.Sleep(period)
	}
}

// On a Unix socket (a 208 KiB send buffer, not autotuned), a peer that takes all it has every 600 ms
// reads about 350 KiB/s, steadily: a graceful close must wait for it, written bytes or a file region.
// The flush timeout is closeWaitsTimeout (2 s; 1.5 s to show it reads): std writes 1 MiB at a time, and
// the first such write, begun before the close, takes about 3 s at this pace, longer than the timeout.
func TestCloseWaitsForASteadyUnixReader(t *testing.T) {
	if testing.Short() {
		t.Skip("reads for about 5 s")
	}
	t.Parallel()
	data := pattern(3<<19, 11)
	dir := t.TempDir()
	path := writeFile(t, dir, "file", data)
	for _, how := range []string{"Write", "SendFile"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
				t.Parallel()
				sock := dir + "/" + how + string(kind) + ".sock"
				h, want := closingSender(how, data, path)
				e := startEngine(t, kind, h, []string{"unix://" + sock}, eddy.WithFlushTimeout(closeWaitsTimeout))
				t.Cleanup(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					e.Stop(ctx)
				})
				c, err := net.Dial("unix", sock)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				got := readInBursts(t, c, 600*time.Millisecond)
				if !bytes.Equal(got, want) {
					t.Errorf("got %d bytes, want %d identical ones", len(got), len(want))
				}
				if err := h.waitClosed(t, 5*time.Second); err != nil {
					t.Errorf("OnClose reason = %v, want nil", err)
				}
			})
		})
	}
}

// closingHandler is a handler that closes after its output and reports its OnClose.
type closingHandler interface {
	eddy.Handler
	waitClosed(*testing.T, time.Duration) error
}

// closingSender is the handler of a close-waits test for how: "Write" writes len(data) bytes of
// pattern 42 and closes; "SendFile" sends the file at path (holding data) and closes. It returns the
// bytes the peer must read.
func closingSender(how string, data []byte, path string) (closingHandler, []byte) {
	if how == "Write" {
		return &blastHandler{counter: newCounter(), size: len(data), closeAfter: true}, pattern(len(data), 42)
	}
	return newSendFileHandler([]sendPiece{{path: path, n: int64(len(data))}}), data
}
