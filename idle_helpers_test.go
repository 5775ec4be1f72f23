package eddy_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// Helpers of the idle-timeout tests (idle_*_test.go, std_idle_input_test.go, conformance_idle*_test.go).

// echoData is an OnData that writes back what it read.
func echoData(c eddy.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
}

// idleEcho is echoOnce with a deadline no loaded machine reaches: these tests bound only the timeouts.
func idleEcho(c net.Conn, msg string) error { return echoWithin(c, msg, 30*time.Second) }

// wantIdleClose waits up to timeout for OnClose and fails unless its reason is ErrIdleTimeout.
func wantIdleClose(t *testing.T, k *counter, timeout time.Duration) {
	t.Helper()
	if err := k.waitClosed(t, timeout); !errors.Is(err, eddy.ErrIdleTimeout) {
		t.Fatalf("OnClose(%v), want ErrIdleTimeout", err)
	}
}

// wantClosedOnce fails unless OnClose has run exactly once, 100 ms after the call: a second one would
// come right behind the first.
func wantClosedOnce(t *testing.T, k *counter) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	if n := k.closed.Load(); n != 1 {
		t.Fatalf("OnClose ran %d times", n)
	}
}

// wantOpen fails if OnClose has run; why says what should have kept the connection open.
func wantOpen(t *testing.T, k *counter, why string) {
	t.Helper()
	select {
	case err := <-k.closedCh:
		t.Fatalf("OnClose(%v) %s", err, why)
	default:
	}
}

// wantOpenAfterQuiet waits quiet, then fails unless the connection still echoes on c and OnClose has
// not run.
func wantOpenAfterQuiet(t *testing.T, k *counter, c net.Conn, quiet time.Duration, why string) {
	t.Helper()
	time.Sleep(quiet)
	if err := idleEcho(c, "still open"); err != nil {
		t.Fatalf("echo after %v quiet %s: %v", quiet, why, err)
	}
	wantOpen(t, k, why)
}

// wantPeerReads fails unless the peer reads want from c, then EOF, within 30 s (a hang guard).
func wantPeerReads(t *testing.T, c net.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if got, err := io.ReadAll(c); err != nil || string(got) != want {
		t.Fatalf("the peer read %q, then %v; want %q then EOF", got, err, want)
	}
}

// tick calls f every d on a goroutine of its own until f fails or stop is called; stop (which may be
// called more than once) returns once that goroutine has.
func tick(d time.Duration, f func() error) (stop func()) {
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-quit:
				return
			case <-time.After(d):
			}
			if f() != nil {
				return
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}

// heldIdle is a server of one loop whose connection's first OnData arms an idle timeout and is then held
// until released: the timeout comes due meanwhile, and (on std) its check waits for OnData to return. Its
// peer c has sent "a", which that OnData read, and "b", which waits in the socket.
type heldIdle struct {
	h     *funcHandler
	c     *net.TCPConn
	sentA time.Time // before "a" was sent: the server's idle deadline is later than sentA + idle
	once  sync.Once
	hold  chan struct{}
}

// startHeldIdle starts a heldIdle whose OnData runs each (the first time before it arms SetIdleTimeout(idle)
// and holds). It reports false, having released OnData, when "b" was sent 4/5 of idle or more after "a":
// it may have come after the idle deadline, where a close as idle is right, so the attempt proves nothing.
func startHeldIdle(t *testing.T, kind eddy.EngineKind, idle time.Duration, each func(eddy.Conn)) (*heldIdle, bool) {
	t.Helper()
	hi := &heldIdle{hold: make(chan struct{})}
	held := make(chan struct{}, 1)
	first := true
	hi.h = &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
		each(c)
		if first { // OnData runs serialised: no lock needed
			first = false
			if err := c.SetIdleTimeout(idle); err != nil {
				t.Errorf("SetIdleTimeout: %v", err)
			}
			held <- struct{}{}
			<-hi.hold // the timeout comes due meanwhile
		}
	}}
	s := startServer(t, kind, hi.h, eddy.WithLoops(1))
	t.Cleanup(hi.release) // registered after startServer's: it runs before the Stop, which OnData would hold up
	hi.c = s.dial(t)
	hi.sentA = time.Now()
	if _, err := hi.c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("OnData did not run")
	}
	if _, err := hi.c.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if time.Since(hi.sentA) >= idle*4/5 {
		hi.release()
		return hi, false
	}
	return hi, true
}

// release lets the held OnData return; it may be called more than once.
func (hi *heldIdle) release() { hi.once.Do(func() { close(hi.hold) }) }

// releaseAt sleeps until at, then releases the held OnData.
func (hi *heldIdle) releaseAt(at time.Time) {
	time.Sleep(time.Until(at))
	hi.release()
}

// closeAt is when OnClose ran, and its error.
type closeAt struct {
	at  time.Time
	err error
}

// closeTimeHandler is a funcHandler that reports when OnClose ran.
type closeTimeHandler struct {
	funcHandler
	closed chan closeAt
}

func newCloseTimeHandler(data func(eddy.Conn)) *closeTimeHandler {
	return &closeTimeHandler{funcHandler: funcHandler{counter: newCounter(), data: data}, closed: make(chan closeAt, 1)}
}

func (h *closeTimeHandler) OnClose(c eddy.Conn, err error) {
	h.closed <- closeAt{time.Now(), err}
	h.funcHandler.OnClose(c, err)
}

// wantIdleCloseFrom fails unless the connection closes with ErrIdleTimeout, and not before idle has
// passed since last (an instant the handler took on the loop before its last write).
func (h *closeTimeHandler) wantIdleCloseFrom(t *testing.T, last time.Time, idle time.Duration) {
	t.Helper()
	select {
	case cl := <-h.closed:
		// Both instants are taken on the loop.
		if took := cl.at.Sub(last); !errors.Is(cl.err, eddy.ErrIdleTimeout) || took < idle {
			t.Fatalf("closed %v after the handler's last write (reason %v); want ErrIdleTimeout, not before %v", took, cl.err, idle)
		}
	case <-time.After(idle + 30*time.Second):
		t.Fatal("the idle connection was not closed")
	}
}

// openMany dials n clients to addr (closed when the test ends) and returns them with the n server-side
// Conns the handler sends on conns as they open, in the order they come.
func openMany(t *testing.T, addr string, n int, conns <-chan eddy.Conn) ([]net.Conn, []eddy.Conn) {
	t.Helper()
	clients := make([]net.Conn, n)
	for i := range clients {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	server := make([]eddy.Conn, n)
	for i := range server {
		select {
		case server[i] = <-conns:
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d connections opened", i, n)
		}
	}
	return clients, server
}
