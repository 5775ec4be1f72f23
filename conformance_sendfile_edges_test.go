package eddy_test

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// SendFile at the edges (conn.go): an empty region only keeps its place for the callback (nil, after the
// bytes before it); a closed file is an error at once, with no callback, and the connection goes on; a
// region past the end of the file fails its callback with io.ErrUnexpectedEOF and aborts the connection.
func TestSendFileEdges(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		p := writeFile(t, t.TempDir(), "f", []byte("0123456789"))
		type cbRes struct {
			tag string
			err error
		}
		cbs := make(chan cbRes, 8)
		report := make(chan []string, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			var bad []string
			cb := func(tag string) func(eddy.Conn, error) {
				return func(_ eddy.Conn, err error) { cbs <- cbRes{tag, err} }
			}
			f, _ := os.Open(p)
			c.Write([]byte("a"))
			if err := c.SendFile(f, 100, 0, cb("empty past EOF")); err != nil {
				bad = append(bad, fmt.Sprintf("SendFile(n=0, offset past EOF) = %v", err))
			}
			if err := c.SendFile(f, 2, 3, cb("middle")); err != nil {
				bad = append(bad, fmt.Sprintf("SendFile(2, 3) = %v", err))
			}
			closed, _ := os.Open(p)
			closed.Close()
			if err := c.SendFile(closed, 0, 1, cb("closed file")); err == nil {
				bad = append(bad, "SendFile of a closed file succeeded")
			}
			c.Write([]byte("b"))
			if err := c.SendFile(f, 8, 5, cb("past EOF")); err != nil {
				bad = append(bad, fmt.Sprintf("SendFile(8, 5) of a 10-byte file = %v, want the error in the callback", err))
			}
			f.Close()
			report <- bad
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		awaitReport(t, report, "", "OnOpen")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, _ := io.ReadAll(c)
		if !strings.HasPrefix(string(got), "a234b") {
			t.Errorf("peer read %q, want it to start with \"a234b\"", got)
		}
		reason := h.waitClosed(t, 5*time.Second)
		if !errors.Is(reason, io.ErrUnexpectedEOF) {
			t.Errorf("OnClose reason = %v, want one wrapping io.ErrUnexpectedEOF", reason)
		}
		want := []string{"empty past EOF", "middle", "past EOF"}
		for i, w := range want {
			select {
			case r := <-cbs:
				if r.tag != w {
					t.Fatalf("callback %d is %q's, want %q's", i, r.tag, w)
				}
				if w == "past EOF" {
					if !errors.Is(r.err, io.ErrUnexpectedEOF) {
						t.Errorf("callback %q: %v, want io.ErrUnexpectedEOF", w, r.err)
					}
				} else if r.err != nil {
					t.Errorf("callback %q: %v, want nil", w, r.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("callback %q did not run", w)
			}
		}
		select {
		case r := <-cbs:
			t.Errorf("extra callback %q: %v", r.tag, r.err)
		case <-time.After(50 * time.Millisecond):
		}
	})
}

// A region past the end of the file whose callback closes the connection (as http1 does when a
// handler's copy fails): the callback runs, OnClose runs, and nothing deadlocks. On std the
// callback used to be posted under the writer's lock, and Close took that lock again.
func TestSendFileShortRegionCallbackCloses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		p := t.TempDir() + "/ten"
		if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
		ran := make(chan error, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			f, _ := os.Open(p)
			defer f.Close()
			c.SendFile(f, 8, 5, func(c eddy.Conn, err error) {
				ran <- err
				c.Close()
			})
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.ReadAll(c)
		select {
		case err := <-ran:
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("callback error %v, want one wrapping io.ErrUnexpectedEOF", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the region's callback never ran")
		}
		h.waitClosed(t, 5*time.Second)
	})
}
