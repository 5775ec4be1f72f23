package eddy_test

import (
	"context"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// ctxSeen records the Context each connection had when OnOpen ran.
type ctxSeen struct {
	eddy.BaseHandler
	seen chan any
}

func (h *ctxSeen) OnOpen(c eddy.Conn) { h.seen <- c.Context() }

// TestDialWithSetsContext: DialWith's value is the connection's Context already in OnOpen; Dial's
// is nil.
func TestDialWithSetsContext(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, newEcho(false))
		h := &ctxSeen{seen: make(chan any, 2)}
		cl := startClient(t, kind, h)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		type tag struct{ name string }
		want := &tag{"for this dial"}
		c, err := cl.DialWith(ctx, "tcp://"+s.addr, want).Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := <-h.seen; got != want {
			t.Fatalf("Context in OnOpen = %v, want %v", got, want)
		}
		if got := c.Context(); got != want {
			t.Fatalf("Context after = %v, want %v", got, want)
		}
		c.Close()
		if _, err := cl.Dial(ctx, "tcp://"+s.addr).Await(ctx); err != nil {
			t.Fatal(err)
		}
		if got := <-h.seen; got != nil {
			t.Fatalf("Context of a Dial = %v, want nil", got)
		}
	})
}
