package etls_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
	"github.com/eddyio/eddy/future"
)

// silentServer accepts connections and never answers: a TLS handshake with it waits for ever. The
// connections it accepted come out of the returned channel.
func silentServer(t *testing.T) (string, <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(accepted)
		for c := range accepted {
			c.Close()
		}
	})
	return ln.Addr().String(), accepted
}

// waitGone waits for the client to drop the connection the server accepted as sc: its read ends
// with EOF or a reset, once what the client sent (its hello) is read.
func waitGone(t *testing.T, sc net.Conn) {
	t.Helper()
	defer sc.Close()
	sc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := sc.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the client kept the connection of a cancelled Dial")
			}
			return
		}
	}
}

// stoppedDial reports whether err is that of a Dial stopped by a cancellation: in the handshake (a
// *HandshakeError) or, if the loop had not finished the connect yet, in the connect (an *eddy.OpError).
func stoppedDial(err error) bool {
	var herr *etls.HandshakeError
	var oe *eddy.OpError
	return errors.Is(err, context.Canceled) && (errors.As(err, &herr) || errors.As(err, &oe))
}

// TestDialCancel: cancelling the future of Dial (Future.Cancel, or a combinator that gives up
// on it) stops the handshake and closes the connection, as cancelling Dial's ctx does, and the
// future fails with a *HandshakeError (or, before the connect is through, an *eddy.OpError) wrapping
// context.Canceled. Dial's future came from a plain
// promise, which Cancel did not reach: the handshake went on until ctx or HandshakeTimeout ended it
// (never, here), holding a connection and a goroutine for a caller that had given up.
func TestDialCancel(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		addr, accepted := silentServer(t)
		th := etls.Client(&collector{got: make(chan []byte, 4)}, &tls.Config{InsecureSkipVerify: true})
		th.HandshakeTimeout = -1 // no bound but the caller's
		e := clientEngine(t, k, th)
		bound, cancelBound := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelBound()

		// The reference: the caller's ctx ends during the handshake.
		ctx, cancel := context.WithCancel(context.Background())
		f := th.Dial(ctx, e, addr, nil)
		sc := <-accepted
		cancel()
		_, ctxErr := f.Await(bound)
		if !stoppedDial(ctxErr) {
			t.Fatalf("ctx cancelled: %v, want a *HandshakeError or an *eddy.OpError wrapping context.Canceled", ctxErr)
		}
		waitGone(t, sc)

		// Future.Cancel during the handshake: the same outcome.
		f = th.Dial(context.Background(), e, addr, nil)
		sc = <-accepted
		f.Cancel()
		_, err := f.Await(bound)
		if err == bound.Err() {
			t.Fatal("Future.Cancel did not stop the handshake")
		}
		if !stoppedDial(err) {
			t.Fatalf("Future.Cancel: %v, want a *HandshakeError or an *eddy.OpError wrapping context.Canceled (as %v)", err, ctxErr)
		}
		waitGone(t, sc)

		// future.WithTimeout gives up on it: the connection goes too.
		f = th.Dial(context.Background(), e, addr, nil)
		sc = <-accepted
		if _, err := future.WithTimeout(f, 20*time.Millisecond).Await(bound); !errors.Is(err, future.ErrTimeout) {
			t.Fatalf("WithTimeout: %v", err)
		}
		waitGone(t, sc)
		if _, err := f.Await(bound); !errors.Is(err, context.Canceled) {
			t.Fatalf("the Dial WithTimeout gave up on: %v, want context.Canceled", err)
		}

		// The loser of a Race, cancelled while it connects or shakes hands.
		lose := th.Dial(context.Background(), e, addr, nil)
		won := future.Map(eddy.Sleep(context.Background(), e.Loops()[0], time.Millisecond), nil,
			func(struct{}) (*etls.Conn, error) { return nil, nil })
		if _, err := future.Race(lose, won).Await(bound); err != nil {
			t.Fatalf("Race: %v", err)
		}
		if _, err := lose.Await(bound); !errors.Is(err, context.Canceled) {
			t.Fatalf("the Dial that lost the Race: %v, want context.Canceled", err)
		}
		select {
		case sc := <-accepted:
			waitGone(t, sc)
		default: // stopped before the server accepted it
		}
	})
}

// TestDialCancelAfterCompletion: the context of a Dial's future is released when it resolves;
// that must not end the established connection, and neither must a Cancel afterwards.
func TestDialCancelAfterCompletion(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		addr := tlsEchoServer(t, p.server)
		h := &collector{got: make(chan []byte, 64)}
		th := etls.Client(h, &tls.Config{RootCAs: p.pool})
		e := clientEngine(t, k, th)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f := th.Dial(ctx, e, "tcp://"+addr, nil)
		c, err := f.Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		f.Cancel()
		for i := range 3 {
			msg := []byte{'a' + byte(i)}
			if err := c.AsyncWrite(msg, nil); err != nil {
				t.Fatal(err)
			}
			if got := h.read(t, 1); string(got) != string(msg) {
				t.Fatalf("echo %q, want %q", got, msg)
			}
		}
		if v, err := f.Result(); v != c || err != nil {
			t.Fatalf("the future after Cancel: %v, %v", v, err)
		}
		c.Close()
	})
}

// TestDialNilContext: a nil ctx is context.Background(), as for Engine.Dial. The handshake's
// context was derived from the ctx given, and context.WithTimeoutCause panics on a nil parent (on
// the loop, in OnOpen).
func TestDialNilContext(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		addr := tlsEchoServer(t, p.server)
		th := etls.Client(&collector{got: make(chan []byte, 4)}, &tls.Config{RootCAs: p.pool})
		e := clientEngine(t, k, th)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := th.Dial(nil, e, "tcp://"+addr, nil).Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
}

// countOpens is a wrapped client handler that counts OnOpen.
type countOpens struct {
	eddy.BaseHandler
	opens atomic.Int64
}

func (h *countOpens) OnOpen(eddy.Conn) { h.opens.Add(1) }

// handshaking reports whether a handshake goroutine of etls is still running.
func handshaking() bool {
	buf := make([]byte, 1<<20)
	return bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("etls.(*Conn).handshake("))
}

// TestDialRaceLoserAfterHandshake: two Dials race (future.Race) and both handshakes are over
// before their loop hands the connections over: the first opens, resolves and wins, and the Race
// cancels the other, whose hand-over is next on the loop. It must fail with context.Canceled and give
// the wrapped handler nothing, not open a connection nobody holds: the hand-over (establish) did not
// look at the Dial's context, which no handshake watched any more. (The std engine runs each
// connection's callbacks on goroutines of its own, not on the loop held here: there the loser opens
// if its hand-over came before the Race settled.)
func TestDialRaceLoserAfterHandshake(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		addr := tlsEchoServer(t, p.server)
		verified, blocked := make(chan struct{}, 2), make(chan struct{})
		cfg := &tls.Config{RootCAs: p.pool, VerifyConnection: func(tls.ConnectionState) error {
			verified <- struct{}{}
			<-blocked // the server's flight is in: its Finished follows the certificate
			return nil
		}}
		h := &countOpens{}
		th := etls.Client(h, cfg)
		e := clientEngine(t, k, th)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		a := th.Dial(ctx, e, "tcp://"+addr, nil)
		b := th.Dial(ctx, e, "tcp://"+addr, nil)
		for range 2 {
			select {
			case <-verified:
			case <-ctx.Done():
				t.Fatal("no handshake reached the certificate")
			}
		}
		// Hold the loop while both handshakes end, so that it hands both over in one go.
		entered, release := make(chan struct{}), make(chan struct{})
		e.Loops()[0].Execute(func() {
			close(entered)
			<-release
		})
		<-entered
		close(blocked)
		for deadline := time.Now().Add(5 * time.Second); handshaking() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond) // a handshake still waiting for input ends after the release
		}
		won := future.Race(a, b)
		close(release)
		c, err := won.Await(ctx)
		if err != nil {
			t.Fatalf("Race: %v", err)
		}
		defer c.Close()
		lost := b
		if r, _ := a.Result(); r != c {
			lost = a
		}
		lc, err := lost.Await(ctx)
		if lc != nil {
			lc.Close()
		}
		if k == eddy.EngineStd && err == nil {
			return // its own goroutine handed it over before the Race settled: it is the caller's
		}
		if !stoppedDial(err) {
			t.Fatalf("the Dial that lost the Race: %T, %v, want an error wrapping context.Canceled", lc, err)
		}
		if n := h.opens.Load(); n != 1 {
			t.Fatalf("the wrapped OnOpen ran %d times, want once (the winner)", n)
		}
	})
}
