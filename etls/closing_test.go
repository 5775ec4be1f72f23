package etls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// goodbyeH is a wrapped handler that echoes, says goodbye in OnClosing (eddy.ClosingHandler), and
// reports its OnClose.
type goodbyeH struct {
	echo
	opened chan eddy.Conn
	closed chan error
}

func newGoodbyeH() *goodbyeH {
	return &goodbyeH{opened: make(chan eddy.Conn, 8), closed: make(chan error, 8)}
}

func (h *goodbyeH) OnOpen(c eddy.Conn) { h.opened <- c }

func (h *goodbyeH) OnClosing(c eddy.Conn, reason error) {
	if _, ok := c.(*etls.Conn); !ok {
		panic("OnClosing was not given the TLS connection")
	}
	c.Write([]byte("bye"))
}

func (h *goodbyeH) OnClose(c eddy.Conn, err error) { h.closed <- err }

// readEnd reads tc to its end and returns the plaintext, the error that ended it and the content
// type of the last record on the wire.
func readEnd(tc *tls.Conn, rc *wireRecorder) (string, error, byte) {
	got, err := io.ReadAll(tc)
	rc.mu.Lock()
	typ, _ := lastRecordType(rc.got)
	rc.mu.Unlock()
	return string(got), err, typ
}

// The closes the engine starts by itself, at an idle timeout and in Stop, send close_notify after
// what the wrapped handler's OnClosing wrote (they sent a bare FIN before: a strict peer took the
// stream as cut short), and OnClose reports the engine's reason.
func TestEngineClosesSendCloseNotify(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []eddy.Option
		stop   bool
		reason error
	}{
		{"idle timeout", []eddy.Option{eddy.WithIdleTimeout(200 * time.Millisecond)}, false, eddy.ErrIdleTimeout},
		{"stop", nil, true, eddy.ErrEngineStopped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEngines(t, func(t *testing.T, k eddy.EngineKind) {
				p := getPKI(t)
				h := newGoodbyeH()
				e, addr := advStart(t, k, etls.Server(h, p.server), tc.opts...)
				conn, rc := dialTLS12(t, addr, p)
				if _, err := conn.Write([]byte("hello")); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 5)
				if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "hello" {
					t.Fatalf("echo: %q, %v", buf, err)
				}
				<-h.opened
				if tc.stop {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					if err := e.Stop(ctx); err != nil {
						t.Fatalf("Stop: %v", err)
					}
				}
				got, err, typ := readEnd(conn, rc)
				if got != "bye" || err != nil {
					t.Fatalf("read %q, %v; want \"bye\" and the end", got, err)
				}
				if typ != 21 {
					t.Errorf("the stream ended without close_notify (last record type %d)", typ)
				}
				select {
				case err := <-h.closed:
					if !errors.Is(err, tc.reason) {
						t.Errorf("OnClose reported %v; want %v", err, tc.reason)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("no OnClose")
				}
			})
		})
	}
}
