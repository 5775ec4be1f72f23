package http1_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestDeadlineOnANonReaderStillResets: the other side of the decision above. A client that
// reads nothing has the response's output stuck in the server's queue when WriteTimeout passes:
// the connection is reset at once (the client's socket sees the reset while it still reads
// nothing), not closed gracefully, which would hold it for the engine's flush timeout (here a
// minute) behind a client that does not read.
func TestDeadlineOnANonReaderStillResets(t *testing.T) {
	returned := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 32<<10)
		var err error
		for i := 0; i < 1024 && err == nil; i++ { // 32 MiB: more than the sockets hold
			_, err = w.Write(buf)
		}
		returned <- err
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: h, WriteTimeout: 300 * time.Millisecond, ErrorLog: newLogger(io.Discard),
			EngineOptions: []eddy.Option{eddy.WithFlushTimeout(time.Minute)}}
		addr := start(t, engine, srv)
		c := dial(t, addr)
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(64 << 10)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		select {
		case err := <-returned:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("the handler's write returned %v; want os.ErrDeadlineExceeded", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the handler's write still blocked 10 s after the WriteTimeout")
		}
		// Without reading: a read would make room and let a graceful close go on.
		if err := waitPeerReset(c, 5*time.Second); err != nil {
			t.Fatal(err)
		}
	})
}

// waitPeerReset waits, without reading from c, until its socket has been reset by the peer.
func waitPeerReset(c net.Conn, limit time.Duration) error {
	end := time.Now().Add(limit)
	for {
		state, err := tCPState(c)
		if err != nil {
			return err
		}
		if state == tCPClose {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("the client's socket is still in TCP state %d %v after the deadline; want it reset", state, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tCPState returns the TCP state of c's socket (TCP_INFO's tcpi_state).
func tCPState(c net.Conn) (uint8, error) {
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return 0, err
	}
	var info *unix.TCPInfo
	var serr error
	if err := rc.Control(func(fd uintptr) { info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO) }); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return info.State, nil
}

// tCPClose is TCP_CLOSE, the state of a socket the peer has reset.
const tCPClose = 7
