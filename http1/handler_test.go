package http1_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestFlushedChunksArriveOneByOne: with http.ResponseController.Flush (and a head flushed
// before any body, as Server-Sent Events do), each chunk reaches the client while the handler
// still waits to write the next one.
func TestFlushedChunksArriveOneByOne(t *testing.T) {
	next := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush: %v", err)
		}
		for i := range 3 {
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "data: "+string(rune('a'+i))+"\n\n")
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
		}
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil) // the head, before any event
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("Content-Type") != "text/event-stream" || len(resp.TransferEncoding) == 0 {
			t.Fatalf("head %v %v", resp.Header, resp.TransferEncoding)
		}
		body := bufio.NewReader(resp.Body)
		for i := range 3 {
			next <- struct{}{}
			line, err := body.ReadString('\n')
			if err != nil || line != "data: "+string(rune('a'+i))+"\n" {
				t.Fatalf("event %d: %q %v", i, line, err)
			}
			body.ReadString('\n')
		}
		if rest, err := io.ReadAll(body); err != nil || len(rest) != 0 {
			t.Fatalf("after the events: %q %v", rest, err)
		}
	})
}

// TestContextCancelledWhileTheHandlerIgnoresTheBody: a handler that blocks without reading
// the body of its request has its context cancelled when the client goes away, by FIN or by reset.
func TestContextCancelledWhileTheHandlerIgnoresTheBody(t *testing.T) {
	started := make(chan struct{}, 1)
	cancelled := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(5 * time.Second):
			cancelled <- errors.New("not cancelled")
		}
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		for _, reset := range []bool{false, true} {
			c := dial(t, addr)
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"+strings.Repeat("z", 30000))
			<-started
			if reset {
				c.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
			if err := <-cancelled; !errors.Is(err, context.Canceled) {
				t.Fatalf("reset=%v: %v", reset, err)
			}
		}
	})
}
