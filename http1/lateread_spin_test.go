package http1_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestLateReadSpin: without a hook, a goroutine the handler left behind keeps calling
// Read(nil) on the body (each call returns at once) across the handler's return, while the
// connection recycles the response for its pipelined next request. Under -race, a late Read that
// touches the recycled response is reported; on the wire, no 100 Continue may go out for the
// second request, whose handler never reads its body.
func TestLateReadSpin(t *testing.T) {
	const raw = "POST /first HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /second HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nworld"
	lateErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/first" {
			io.WriteString(w, "second")
			return
		}
		io.ReadAll(r.Body)
		body := r.Body
		go func() {
			for {
				if _, err := body.Read(nil); err != nil && err != io.EOF {
					lateErr <- err
					return
				}
			}
		}()
		io.WriteString(w, "first")
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h, Loops: 1})
		for i := 0; i < 20; i++ {
			got, wire := lateReadWire(t, addr, raw)
			if len(got) != 3 || strings.Count(wire, "100 Continue") != 1 {
				t.Fatalf("round %d: got %q; wire %q", i, got, wire)
			}
			if err := <-lateErr; !errors.Is(err, http.ErrBodyReadAfterClose) {
				t.Fatalf("late Read: %v, want %v", err, http.ErrBodyReadAfterClose)
			}
		}
	})
}
