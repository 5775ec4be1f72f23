package etls_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// collector is a wrapped client handler that hands what it reads to the test.
type collector struct {
	eddy.BaseHandler
	got chan []byte
}

func (h *collector) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	h.got <- bytes.Clone(b)
}

func (h *collector) read(t *testing.T, n int) []byte {
	t.Helper()
	var all []byte
	for len(all) < n {
		select {
		case b := <-h.got:
			all = append(all, b...)
		case <-time.After(10 * time.Second):
			t.Fatalf("read %d of %d bytes", len(all), n)
		}
	}
	return all
}

func clientEngine(t *testing.T, k eddy.EngineKind, h eddy.Handler) *eddy.Engine {
	t.Helper()
	e, err := eddy.New(h, nil, eddy.WithEngine(k), eddy.WithLoops(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background()) })
	return e
}

// TestClientDial: Dial performs the handshake (ServerName from the address, verified), resolves
// with the established connection, and bytes go both ways; Engine.Dial on the same engine gives a
// connection in clear.
func TestClientDial(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		addr := tlsEchoServer(t, p.server)
		h := &collector{got: make(chan []byte, 64)}
		th := etls.Client(h, &tls.Config{RootCAs: p.pool})
		e := clientEngine(t, k, th)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := th.Dial(ctx, e, "tcp://"+addr, nil).Await(ctx) // ServerName 127.0.0.1: in the certificate
		if err != nil {
			t.Fatal(err)
		}
		if st := c.ConnectionState(); !st.HandshakeComplete || len(st.VerifiedChains) == 0 {
			t.Fatalf("state: %+v", st)
		}
		msg := bytes.Repeat([]byte("tls client "), 20_000)
		if err := c.AsyncWrite(msg, nil); err != nil {
			t.Fatal(err)
		}
		if got := h.read(t, len(msg)); !bytes.Equal(got, msg) {
			t.Fatal("echo differs")
		}
		c.Close()

		// Engine.Dial on the same engine: a connection in clear, to a plain echo server.
		plain, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		go func() {
			pc, err := plain.Accept()
			if err == nil {
				io.Copy(pc, pc)
				pc.Close()
			}
		}()
		raw, err := e.Dial(ctx, plain.Addr().String()).Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := raw.(*etls.Conn); ok {
			t.Fatal("Engine.Dial gave a TLS connection")
		}
		raw.AsyncWrite([]byte("in clear"), nil)
		if got := h.read(t, 8); string(got) != "in clear" {
			t.Fatalf("plain connection read %q", got)
		}
		raw.Close()
	})
}

// TestClientDialFailures: a certificate for another name, a server that never answers the hello
// (the Dial's context ends), and a refused connect.
func TestClientDialFailures(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		addr := tlsEchoServer(t, p.server)
		hsErrs := make(chan error, 4)
		th := etls.Client(&collector{got: make(chan []byte, 4)}, &tls.Config{RootCAs: p.pool})
		th.OnHandshakeError = func(_ eddy.Conn, err error) { hsErrs <- err }
		e := clientEngine(t, k, th)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		_, err := th.Dial(ctx, e, addr, &tls.Config{RootCAs: p.pool, ServerName: "other.test"}).Await(ctx)
		var certErr *tls.CertificateVerificationError
		if !errors.As(err, &certErr) {
			t.Fatalf("wrong name: %v, want a certificate verification error", err)
		}
		if herr := <-hsErrs; herr != err {
			t.Fatalf("OnHandshakeError: %v, want %v", herr, err)
		}

		silent, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		short, cancelShort := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancelShort()
		_, err = th.Dial(short, e, silent.Addr().String(), nil).Await(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("silent server: %v, want context.DeadlineExceeded", err)
		}
		<-hsErrs

		refused, _ := net.Listen("tcp", "127.0.0.1:0")
		raddr := refused.Addr().String()
		refused.Close()
		_, err = th.Dial(ctx, e, raddr, nil).Await(ctx)
		var op *eddy.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			t.Fatalf("refused: %v, want a dial *eddy.OpError", err)
		}

		srv := etls.Server(&collector{}, p.server)
		if _, err := srv.Dial(ctx, e, addr, nil).Await(ctx); err == nil || !strings.Contains(err.Error(), "Client") {
			t.Fatalf("Dial on a server Handler: %v", err)
		}
	})
}
