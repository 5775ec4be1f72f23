package etls_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// etls.Server with a nil *tls.Config used to start, and the first client's handshake then faulted in
// crypto/tls on the handshake goroutine, ending the whole server. Start now refuses it.
func TestMisuseServerNilConfig(t *testing.T) {
	for name, h := range map[string]*etls.Handler{
		"nil config":  etls.Server(eddy.BaseHandler{}, nil),
		"nil handler": etls.Client(nil, nil),
	} {
		e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithLoops(1))
		if err != nil {
			t.Fatal(err)
		}
		err = e.Start()
		if err == nil {
			e.Stop(t.Context())
			t.Errorf("%s: Start = nil, want an error", name)
			continue
		}
		if !strings.Contains(err.Error(), "nil") {
			t.Errorf("%s: Start = %v, want an error that says what is nil", name, err)
		}
	}
}

// Handler.Dial through an engine served by another handler: nobody ran the handshake, and the future
// stayed pending for ever, past its context, with the connection open in clear.
func TestMisuseDialWrongEngine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	h := etls.Client(eddy.BaseHandler{}, nil)
	e, err := eddy.New(eddy.BaseHandler{}, nil, eddy.WithLoops(1)) // not h
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = h.Dial(ctx, e, ln.Addr().String(), nil).Await(ctx)
	if err == nil || err == context.DeadlineExceeded || !strings.Contains(err.Error(), "Handler") {
		t.Errorf("Dial through an engine of another handler = %v, want an error naming the mistake", err)
	}
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(5 * time.Second):
	}
	if _, err := h.Dial(ctx, nil, ln.Addr().String(), nil).Result(); err == nil {
		t.Error("Dial through a nil engine succeeded")
	}
}

// SendFile on a TLS connection is refused with eddy.ErrUnsupported, which code written against the
// standard library's errors.ErrUnsupported recognizes too.
func TestSendFileIsUnsupported(t *testing.T) {
	var c etls.Conn
	err := c.SendFile(nil, 0, 1, nil)
	if !errors.Is(err, eddy.ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("SendFile = %v, want eddy.ErrUnsupported, which matches errors.ErrUnsupported", err)
	}
}
