package eddy

import (
	"context"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// review3FileHog sends a large file to every new connection and nothing else.
type review3FileHog struct {
	BaseHandler
	path   string
	closed chan error
}

func (h *review3FileHog) OnOpen(c Conn) {
	f, err := os.Open(h.path)
	if err != nil {
		panic(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	c.SendFile(f, 0, fi.Size(), nil)
}

func (h *review3FileHog) OnClose(_ Conn, err error) { h.closed <- err }

// A SendFile region to a peer that stays connected but never reads: the splice to the socket finds no
// room and a POLL_ADD for POLLOUT (urOpSplicePoll) waits for it. Stopping the engine (here forced after
// 200 ms) aborts the connection, whose release must cancel every operation in flight and close the
// socket: cancelOps cancels the splice steps in flight (here the poll for room), not a send, so the
// connection is finalized and Stop returns although the peer keeps quiet.
func TestUringStopWithSpliceWaitingForRoom(t *testing.T) {
	requireUring(t)
	body := make([]byte, 32<<20)
	rand.NewChaCha8([32]byte{3}).Read(body)
	path := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(path, body, 0o600); err != nil {
		t.Fatal(err)
	}
	h := &review3FileHog{path: path, closed: make(chan error, 4)}
	opts := []Option{WithEngine(EngineUring), WithLoops(1)}
	e, err := New(h, []string{"tcp://127.0.0.1:0"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	l := e.impl.(*uringEngine).loops[0]
	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		e.Stop(context.Background())
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	stopping := false
	defer func() {
		c.(*net.TCPConn).SetLinger(0)
		c.Close() // the peer's reset ends the splice's poll: the connection can be finalized
		if !stopping {
			go func() { stopped <- e.Stop(context.Background()) }()
		}
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Error("Stop did not return even after the peer's reset")
		}
	}()
	// Wait until the splice waits for room on the socket.
	deadline := time.Now().Add(5 * time.Second)
	for {
		polling := false
		onLoop(t, l, func() {
			for _, uc := range l.conns {
				if uc == nil {
					continue
				}
				if x := uc.x.Load(); x != nil && x.splice != nil && x.splice.poll {
					polling = true
				}
			}
		})
		if polling {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the splice never waited for room on the socket")
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopping = true
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		stopped <- e.Stop(ctx)
	}()
	select {
	case err := <-stopped:
		stopped <- err // for the deferred check
	case <-time.After(3 * time.Second):
		var live int
		var sending, sPoll bool
		onLoopTimeout(l, func() {
			live = l.live
			for _, uc := range l.conns {
				if uc != nil {
					sending = uc.sending
					if x := uc.x.Load(); x != nil && x.splice != nil {
						sPoll = x.splice.poll
					}
				}
			}
		})
		t.Fatalf("Stop (forced after 200 ms) still waiting 3 s later: %d connection(s) not finalized "+
			"(sending %v, splice poll in flight %v); OnClose had run: %v", live, sending, sPoll, len(h.closed) > 0)
	}
}

// onLoopTimeout runs fn on l's goroutine if it still runs tasks, waiting at most a second.
func onLoopTimeout(l *urLoop, fn func()) {
	done := make(chan struct{})
	if l.submit(task{fn: func(*task) { fn(); close(done) }}) != nil {
		return
	}
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}
