package etls_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// counted is a wrapped handler that counts its callbacks.
type counted struct {
	opened, data, closed atomic.Int32
}

func (h *counted) OnOpen(eddy.Conn)         { h.opened.Add(1) }
func (h *counted) OnData(c eddy.Conn)       { h.data.Add(1); c.Discard(-1) }
func (h *counted) OnClose(eddy.Conn, error) { h.closed.Add(1) }

// stateful is a plain handler that sets a Context of its own in OnOpen.
type stateful struct{ eddy.BaseHandler }

func (stateful) OnOpen(c eddy.Conn) { c.SetContext("mine") }

// Handler.Dial promises an error naming the mistake when the engine's Handler is not the one dialling.
// It was caught only for an engine served by a plain handler: an engine served by another etls
// Handler (a Client with another wrapped handler and configuration, or a Server) took the dial's
// request from the connection's Context and ran the handshake itself, so that the Dial succeeded with
// a connection that the engine's wrapped handler served, and the dialler's never heard of; and an
// engine served by a plain handler that sets a Context of its own in OnOpen left the Dial pending
// until its context ended.
func TestDialThroughAnotherEtlsHandlersEngineFails(t *testing.T) {
	pki := getPKI(t)
	addr := tlsEchoServer(t, pki.server)
	for _, k := range testEngines() {
		t.Run(string(k), func(t *testing.T) {
			for name, mk := range map[string]func(eddy.Handler) *etls.Handler{
				"client": func(h eddy.Handler) *etls.Handler { return etls.Client(h, pki.client) },
				"server": func(h eddy.Handler) *etls.Handler { return etls.Server(h, pki.server) },
				"plain":  nil,
			} {
				t.Run(name, func(t *testing.T) {
					var owner *counted
					var eh eddy.Handler = stateful{}
					if mk != nil {
						owner = &counted{}
						eh = mk(owner)
					}
					e, err := eddy.New(eh, nil, eddy.WithEngine(k), eddy.WithLoops(1))
					if err != nil {
						t.Fatal(err)
					}
					if err := e.Start(); err != nil {
						t.Fatal(err)
					}
					defer e.Stop(context.Background())
					dialler := &counted{}
					h := etls.Client(dialler, pki.client)
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					c, err := h.Dial(ctx, e, addr, nil).Await(ctx)
					if err == nil {
						c.Close()
						t.Errorf("Dial through an engine of another etls Handler succeeded, want an error naming the mistake")
					} else if !strings.Contains(err.Error(), "Handler") {
						t.Errorf("Dial through an engine of another etls Handler = %v, want an error naming the mistake", err)
					}
					// Nothing is left to run for the connection once the engine has stopped.
					sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer scancel()
					if err := e.Stop(sctx); err != nil {
						t.Fatalf("Stop: %v", err)
					}
					for who, w := range map[string]*counted{"the engine's wrapped handler": owner, "the dialler's wrapped handler": dialler} {
						if w == nil {
							continue
						}
						if o, d, cl := w.opened.Load(), w.data.Load(), w.closed.Load(); o+d+cl != 0 {
							t.Errorf("%s saw %d OnOpen, %d OnData, %d OnClose for the refused dial, want none", who, o, d, cl)
						}
					}
				})
			}
		})
	}
	skipMissingUring(t)
}
