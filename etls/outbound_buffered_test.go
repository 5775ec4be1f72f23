package etls_test

import (
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// bigWriter writes size bytes when a TLS connection opens and hands the connection to the test.
type bigWriter struct {
	eddy.BaseHandler
	size  int
	conns chan eddy.Conn
}

func (h *bigWriter) OnOpen(c eddy.Conn) {
	c.Write(make([]byte, h.size))
	h.conns <- c
}

// OutboundBuffered on a TLS connection counts the records its peer has not taken: more than 0 while
// the peer does not read, 0 once it has read everything.
func TestOutboundBuffered(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		const size = 16 << 20
		p := getPKI(t)
		h := &bigWriter{size: size, conns: make(chan eddy.Conn, 1)}
		addr := serve(t, k, etls.Server(h, p.server))
		tc := dialTLS(t, addr, p.client)
		var c eddy.Conn
		select {
		case c = <-h.conns:
		case <-time.After(10 * time.Second):
			t.Fatal("no OnOpen")
		}
		held := func() int {
			got := make(chan int, 1)
			if err := c.Execute(func(c eddy.Conn) { got <- c.OutboundBuffered() }); err != nil {
				t.Fatalf("Execute: %v", err)
			}
			return <-got
		}
		if n := held(); n <= 0 {
			t.Fatalf("OutboundBuffered = %d with 16 MiB written and the peer not reading, want more than 0", n)
		}
		if _, err := io.CopyN(io.Discard, tc, size); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for held() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("OutboundBuffered = %d after the peer read everything, want 0", held())
			}
			time.Sleep(time.Millisecond)
		}
	})
}
