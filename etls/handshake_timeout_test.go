package etls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
	"github.com/eddyio/eddy/internal/testtls"
)

// isNetTimeout reports whether err is what code written for crypto/tls over a net.Conn takes for a
// timeout: a net.Error whose Timeout is true, as such (err.(net.Error)) and through an *url.Error,
// which asks its Err directly (net/http's clients: url.Error.Timeout).
func isNetTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout() && (&url.Error{Op: "Get", URL: "https://x/", Err: err}).Timeout()
}

// A handshake cut by its bound fails, on both sides, with an error that says it timed out as
// crypto/tls's do: a net.Error whose Timeout is true (the deadline of the net.Conn under a crypto/tls
// server, the context of a tls.Dialer), and net/http's "TLS handshake timeout" is one too. etls's
// *HandshakeError was no net.Error and ErrHandshakeTimeout a plain errors.New: a retry on
// err.(net.Error).Timeout(), or on url.Error.Timeout() above http1's Transport, never saw one (session
// 44).
func TestHandshakeTimeoutIsNetTimeout(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		const bound = 200 * time.Millisecond

		// Client side: a server that accepts and never answers the ClientHello.
		silent := testtls.SilentPeer(t)
		eh := etls.Client(&advH{}, p.client)
		eh.HandshakeTimeout = bound
		e := startClientEngine(t, k, eh)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := eh.Dial(ctx, e, silent, nil).Await(ctx)
		if !errors.Is(err, etls.ErrHandshakeTimeout) {
			t.Fatalf("Dial to a silent server: %v, want etls.ErrHandshakeTimeout", err)
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("Dial to a silent server: %v does not match os.ErrDeadlineExceeded", err)
		}
		dctx, dcancel := context.WithTimeout(context.Background(), bound)
		_, serr := (&tls.Dialer{Config: p.client}).DialContext(dctx, "tcp", silent)
		dcancel()
		if !isNetTimeout(serr) {
			t.Fatalf("crypto/tls baseline: %v is no timeout", serr)
		}
		if !isNetTimeout(err) {
			t.Errorf("Dial to a silent server: %v (%T) is no net.Error timeout; crypto/tls's is (%T)", err, err, serr)
		}

		// Server side: a client that connects and never sends its ClientHello.
		hsErr := make(chan error, 1)
		sh := etls.Server(&advH{}, p.server)
		sh.HandshakeTimeout = bound
		sh.OnHandshakeError = func(_ eddy.Conn, err error) { hsErr <- err }
		addr := serve(t, k, sh)
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		select {
		case err = <-hsErr:
		case <-time.After(10 * time.Second):
			t.Fatal("no OnHandshakeError for a silent client")
		}
		base := cryptoTLSServerHandshakeErr(t, p.server, bound)
		if !isNetTimeout(base) {
			t.Fatalf("crypto/tls baseline: %v is no timeout", base)
		}
		if !isNetTimeout(err) {
			t.Errorf("OnHandshakeError for a silent client: %v (%T) is no net.Error timeout; crypto/tls's is (%T)", err, err, base)
		}

		// A failure that is no timeout does not say it is one. Its handshakes run without the short
		// bound: a full handshake under -race and load took longer than 200 ms, and the client's
		// bound cut it before the name check (CI under load).
		lh := etls.Client(&advH{}, p.client)
		lh.HandshakeTimeout = time.Minute
		le := startClientEngine(t, k, lh)
		lsh := etls.Server(&advH{}, p.server)
		lsh.HandshakeTimeout = time.Minute
		laddr := serve(t, k, lsh)
		_, err = lh.Dial(ctx, le, laddr, &tls.Config{RootCAs: p.pool, ServerName: "other.test"}).Await(ctx)
		var ne net.Error
		if err == nil || errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("a certificate for another name: %v, a timeout", err)
		}
	})
}

// cryptoTLSServerHandshakeErr runs a crypto/tls server handshake under a read deadline of bound over
// a connection whose client never speaks, as net/http bounds it, and returns its error.
func cryptoTLSServerHandshakeErr(t *testing.T, cfg *tls.Config, bound time.Duration) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	sc.SetDeadline(time.Now().Add(bound))
	return tls.Server(sc, cfg).Handshake()
}
