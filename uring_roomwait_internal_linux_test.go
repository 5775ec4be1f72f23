package eddy

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// bigAnswer answers the first input with size bytes, from memory or (file set) with SendFile.
type bigAnswer struct {
	BaseHandler
	body []byte
	file string
}

func (h *bigAnswer) OnData(c Conn) {
	c.Discard(-1)
	if h.file == "" {
		c.Write(h.body)
		return
	}
	f, err := os.Open(h.file)
	if err != nil {
		c.Close()
		return
	}
	defer f.Close()
	c.SendFile(f, 0, int64(len(h.body)), nil)
}

// Once the peer's FIN is in, io_uring reports POLLRDHUP to every poll of the socket, whatever it asked
// for, so a one-shot poll for room completed at once, again and again, for as long as the peer did
// not read: the loop spun (thousands of polls a second). A wait for room must cost nothing while the
// peer reads nothing, and the answer must still arrive whole when it does.
func TestUringWaitForRoomAfterPeersFINDoesNotSpin(t *testing.T) {
	requireUring(t)
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, file string }{{"send", ""}, {"splice", path}} {
		t.Run(tc.name, func(t *testing.T) {
			e, addr := startUring(t, &bigAnswer{body: body, file: tc.file})
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c := nc.(*net.TCPConn)
			defer c.Close()
			c.SetReadBuffer(64 << 10)
			c.Write([]byte("go"))
			c.CloseWrite()
			l := e.impl.(*uringEngine).loops[0]
			polls := func() int { // the loop's count of completed polls for room, read on the loop
				ch := make(chan int)
				l.Execute(func() { ch <- l.stats.roomPolls })
				return <-ch
			}
			time.Sleep(200 * time.Millisecond) // the socket is full and the FIN is in: the loop waits for room
			before := polls()
			time.Sleep(300 * time.Millisecond)
			if n := polls() - before; n > 2 {
				t.Errorf("%d polls for room completed in 300 ms while the peer read nothing; want at most 2", n)
			}

			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, body) {
				t.Fatalf("read %d of %d bytes (%v), or they differ", len(got), len(body), err)
			}
			if err := e.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d send polls, %d splice waits, %d poll completions", l.stats.sendPolls, l.stats.spliceWaits, l.stats.roomPolls)
		})
	}
}
