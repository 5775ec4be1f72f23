package eddy_test

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// The waiting states of the TCP probes on a Unix stream socket, whose poll reports differ (room is the
// peer's receive queue; the peer's shutdown shows as POLLRDHUP as on TCP).
//
// Each state is held by a connection of its own, and all of them at once are watched over one quiet
// period: a loop that spins in any of them uses the CPU the probe bounds, whichever it is. (The probe
// watched each state as it came, ten quiet periods of 500 ms per engine; each period already counted
// every earlier connection, still in its state, so one period over all of them bounds the same CPU.
// A failure names every state held: run the steps apart to find the one that spins.)
func TestNoSpinUnixSocket(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		path := filepath.Join(t.TempDir(), "s.sock")
		h, opened := openedConns(nil)
		fins := make(chan eddy.Conn, 64)
		h.peerClosed = func(c eddy.Conn) bool { fins <- c; return true }
		e := startEngine(t, kind, h, []string{"unix://" + path}, eddy.WithWriteBufferWaterMarks(64<<10, 256<<10))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e.Stop(ctx)
		})
		p := lockLoops(t, e)
		dial := func() (*net.UnixConn, eddy.Conn) {
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c.(*net.UnixConn), <-opened
		}
		// finSeen waits for OnPeerClosed of sc (the loop took the peer's FIN), before output is queued.
		finSeen := func(sc eddy.Conn) {
			t.Helper()
			timeout := time.After(10 * time.Second)
			for {
				select {
				case c := <-fins:
					if c == sc {
						return
					}
				case <-timeout:
					t.Fatal("OnPeerClosed did not run after the peer's CloseWrite")
				}
			}
		}
		file := spinFile(t, 32<<20)
		var states []string

		// Output queued after the peer's FIN (written, and sent from a file).
		c, sc := dial()
		c.CloseWrite()
		finSeen(sc)
		onConn(t, sc, func(c eddy.Conn) { c.Write(big) })
		states = append(states, "output after the peer's FIN, blocked")

		c, sc = dial()
		c.CloseWrite()
		finSeen(sc)
		sendFileTo(t, sc, file, 32<<20)
		states = append(states, "SendFile after the peer's FIN, blocked")

		// Reading paused, the peer's writes stalled; and the same, then the peer half-closed.
		for _, halfClose := range []bool{false, true} {
			c, sc = dial()
			onConn(t, sc, func(c eddy.Conn) { c.SetReadPaused(true) })
			fillPeer(t, c)
			if halfClose {
				c.CloseWrite()
				states = append(states, "paused, the peer half-closed")
			} else {
				states = append(states, "paused, the peer's writes stalled")
			}
		}

		// Output blocked, written and from a file; and each of those, then the peer half-closed.
		for _, halfClose := range []bool{false, true} {
			c, sc = dial()
			onConn(t, sc, func(c eddy.Conn) { c.Write(big) })
			what := "output blocked"
			c2, sc2 := dial()
			sendFileTo(t, sc2, file, 32<<20)
			what2 := "SendFile blocked"
			if halfClose {
				c.CloseWrite()
				c2.CloseWrite()
				what += ", the peer half-closed"
				what2 += ", the peer half-closed"
			}
			states = append(states, what, what2)
		}

		c, sc = dial()
		onConn(t, sc, func(c eddy.Conn) { c.Write(big); c.Close() })
		states = append(states, "closing, the output blocked")

		_, sc = dial()
		sc.Close()
		states = append(states, "lingering for the peer's FIN")

		// Time for the loops to take the last FINs and reach every state (the original probe gave each
		// step 50 to 100 ms).
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "unix, every state at once: "+strings.Join(states, "; "))
	})
}
