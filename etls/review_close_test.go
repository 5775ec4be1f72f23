package etls_test

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// wireRecorder records the raw bytes a crypto/tls client reads.
type wireRecorder struct {
	net.Conn
	mu  sync.Mutex
	got []byte
}

func (r *wireRecorder) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	r.mu.Lock()
	r.got = append(r.got, b[:n]...)
	r.mu.Unlock()
	return n, err
}

// lastRecordType parses the TLS records in the stream and returns the last one's content type.
func lastRecordType(b []byte) (typ byte, n int) {
	for len(b) >= 5 {
		l := int(b[3])<<8 | int(b[4])
		if len(b) < 5+l {
			break
		}
		typ = b[0]
		n++
		b = b[5+l:]
	}
	return typ, n
}

// dialTLS12 dials addr with TLS 1.2 (whose alerts travel in records of type 21, visible on the wire)
// and returns the tls.Conn and its recorder.
func dialTLS12(t *testing.T, addr string, p testPKI) (*tls.Conn, *wireRecorder) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rc := &wireRecorder{Conn: nc}
	cfg := p.client.Clone()
	cfg.MaxVersion = tls.VersionTLS12
	tc := tls.Client(rc, cfg)
	t.Cleanup(func() { tc.Close() })
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc, rc
}

// endsWithAlert reads until EOF and reports whether the server's last record was an alert
// (close_notify: type 21).
func endsWithAlert(t *testing.T, tc *tls.Conn, rc *wireRecorder) bool {
	t.Helper()
	buf := make([]byte, 64)
	for {
		if _, err := tc.Read(buf); err != nil {
			break
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	typ, _ := lastRecordType(rc.got)
	return typ == 21
}

// TestClientPlainConnContextIsTheHandlers: a client Handler gives connections it did not Dial to the
// wrapped handler in clear, and that handler owns their Context. A proxy that keeps, as a plain
// downstream connection's Context, the *etls.Conn of its upstream (a natural pairing) had the
// downstream's input fed to the upstream's TLS state instead of its own OnData, and its OnClose
// reported for the upstream, since Handler dispatched on raw.Context().(*Conn) (found by a review).
func TestClientPlainConnContextIsTheHandlers(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		upAddr := tlsEchoServer(t, p.server)
		var up atomic.Pointer[etls.Conn]
		gotDown := make(chan string, 16)
		closed := make(chan string, 16)
		h := &advH{}
		h.open = func(c eddy.Conn) {
			if _, ok := c.(*etls.Conn); !ok {
				c.SetContext(up.Load()) // the downstream remembers its upstream
			}
		}
		h.data = func(c eddy.Conn) {
			b, _ := c.Next(-1)
			if _, ok := c.(*etls.Conn); !ok {
				gotDown <- string(b)
			}
		}
		h.closed = func(c eddy.Conn, err error) {
			if _, ok := c.(*etls.Conn); ok {
				closed <- "upstream"
			} else {
				closed <- "downstream"
			}
		}
		th := etls.Client(h, &tls.Config{RootCAs: p.pool})
		e, addr := advStart(t, k, th)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := th.Dial(ctx, e, "tcp://"+upAddr, nil).Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		up.Store(c)

		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(nc, "hello")
		select {
		case s := <-gotDown:
			t.Logf("downstream got %q", s)
		case <-time.After(2 * time.Second):
			t.Errorf("the plain downstream connection's OnData never ran (its Context is an *etls.Conn)")
		}
		nc.Close()
		select {
		case s := <-closed:
			if s != "downstream" {
				t.Errorf("closing the downstream reported OnClose for the %s", s)
			}
		case <-time.After(2 * time.Second):
			t.Errorf("no OnClose for the downstream")
		}
	})
}

// TestCloseThenPeerFINSendsCloseNotify: the handler answers and calls Close in OnData; the peer had
// sent its request, its close_notify and its FIN (a half-close: tls.Conn.CloseWrite + TCP
// CloseWrite) and waits for the answer. When the FIN was read in the same loop iteration as the
// request, the raw connection started closing on the FIN before Close's task ran, and that task's
// close_notify was refused: the answer arrived without close_notify (found by a review).
func TestCloseThenPeerFINSendsCloseNotify(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		h := &advH{
			open: func(c eddy.Conn) { time.Sleep(300 * time.Millisecond) }, // the request, close_notify and FIN pile up
			data: func(c eddy.Conn) {
				c.Discard(-1)
				c.Write([]byte("answer"))
				c.Close()
			},
		}
		_, addr := advStart(t, k, etls.Server(h, p.server))
		tc, rc := dialTLS12(t, addr, p)
		tc.Write([]byte("request"))
		tc.CloseWrite()
		rc.Conn.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(tc)
		if string(got) != "answer" {
			t.Fatalf("read %q, %v", got, err)
		}
		rc.mu.Lock()
		typ, _ := lastRecordType(rc.got)
		rc.mu.Unlock()
		if typ != 21 {
			t.Errorf("the answer ended without close_notify (last record type %d)", typ)
		}
	})
}
