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

// awaitReport waits up to 5 s for the problems a handler found and sent on report, and fails the test
// with them, after prefix; it fails at once, naming ran, when none come.
func awaitReport(t *testing.T, report <-chan []string, prefix, ran string) {
	t.Helper()
	select {
	case bad := <-report:
		if len(bad) > 0 {
			t.Errorf("%s\n\t%s", prefix, strings.Join(bad, "\n\t"))
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s did not run", ran)
	}
}

// The inbound methods at the edges of their arguments, as conn.go documents them: Peek and Next take all
// for n <= 0, return what there is with io.ErrShortBuffer for n > Buffered (Next consuming it), Discard
// takes all for n < 0, nothing for 0, and at most Buffered.
func TestInboundArgumentEdges(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		report := make(chan []string, 2)
		round := 0
		h := &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
			var bad []string
			check := func(what string, b []byte, err error, wantB string, wantErr error) {
				if string(b) != wantB || err != wantErr {
					bad = append(bad, fmt.Sprintf("%s = %q, %v; want %q, %v", what, b, err, wantB, wantErr))
				}
			}
			checkN := func(what string, n int, err error, want int) {
				if n != want || err != nil {
					bad = append(bad, fmt.Sprintf("%s = %d, %v; want %d, nil", what, n, err, want))
				}
			}
			switch round {
			case 0:
				if c.Buffered() < 11 {
					return // wait for all of "hello world"
				}
				b, err := c.Peek(0)
				check("Peek(0)", b, err, "hello world", nil)
				b, err = c.Peek(-7)
				check("Peek(-7)", b, err, "hello world", nil)
				b, err = c.Peek(20)
				check("Peek(20)", b, err, "hello world", io.ErrShortBuffer)
				n, err := c.Discard(0)
				checkN("Discard(0)", n, err, 0)
				b, err = c.Next(3)
				check("Next(3)", b, err, "hel", nil)
				n, err = c.Discard(2)
				checkN("Discard(2)", n, err, 2)
				b, err = c.Next(10)
				check("Next(10) of 6", b, err, " world", io.ErrShortBuffer)
				checkN("Buffered after Next(10)", c.Buffered(), nil, 0)
				b, err = c.Peek(1)
				check("Peek(1) of none", b, err, "", io.ErrShortBuffer)
				b, err = c.Next(0)
				check("Next(0) of none", b, err, "", nil)
				n, err = c.Discard(3)
				checkN("Discard(3) of none", n, err, 0)
				round++
				report <- bad
				c.Write([]byte("k"))
			case 1:
				if c.Buffered() < 6 {
					return
				}
				n, err := c.Discard(-5)
				checkN("Discard(-5) of 6", n, err, 6)
				b, err := c.Peek(-1)
				check("Peek(-1) of none", b, err, "", nil)
				round++
				report <- bad
			}
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.Write([]byte("hello world"))
		for i := 0; i < 2; i++ {
			awaitReport(t, report, fmt.Sprintf("round %d:", i), fmt.Sprintf("round %d", i))
			if i == 0 {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				c.Read(make([]byte, 1))
				c.Write([]byte("abcdef"))
			}
		}
	})
}

// Write and Writev of nothing succeed with 0 and send nothing; empty slices in Writev are skipped; after
// CloseWrite every outbound method fails with ErrClosed and a second CloseWrite too, while Close still
// closes (nil, then ErrClosed).
func TestEmptyWritesAndCloseWriteThenOps(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		p := writeFile(t, t.TempDir(), "f", []byte("file"))
		report := make(chan []string, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			var bad []string
			want := func(what string, n int, err error, wantN int, wantErr error) {
				if n != wantN || !errors.Is(err, wantErr) {
					bad = append(bad, fmt.Sprintf("%s = (%d, %v), want (%d, %v)", what, n, err, wantN, wantErr))
				}
			}
			n, err := c.Write(nil)
			want("Write(nil)", n, err, 0, nil)
			n, err = c.Write([]byte{})
			want("Write([]byte{})", n, err, 0, nil)
			n, err = c.Writev(nil)
			want("Writev(nil)", n, err, 0, nil)
			n, err = c.Writev([][]byte{nil, []byte("ab"), {}, []byte("cd"), nil})
			want("Writev(nil, ab, {}, cd, nil)", n, err, 4, nil)
			want("CloseWrite", 0, c.CloseWrite(), 0, nil)
			want("second CloseWrite", 0, c.CloseWrite(), 0, eddy.ErrClosed)
			n, err = c.Write([]byte("x"))
			want("Write after CloseWrite", n, err, 0, eddy.ErrClosed)
			n, err = c.Writev([][]byte{[]byte("x")})
			want("Writev after CloseWrite", n, err, 0, eddy.ErrClosed)
			n, err = c.Writev(nil)
			want("Writev(nil) after CloseWrite", n, err, 0, eddy.ErrClosed)
			f, _ := os.Open(p)
			defer f.Close()
			want("SendFile after CloseWrite", 0, c.SendFile(f, 0, 4, func(eddy.Conn, error) {
				panic("callback of a refused SendFile")
			}), 0, eddy.ErrClosed)
			want("Close after CloseWrite", 0, c.Close(), 0, nil)
			want("second Close", 0, c.Close(), 0, eddy.ErrClosed)
			report <- bad
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		awaitReport(t, report, "", "OnOpen")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "abcd" {
			t.Fatalf("peer read %q, %v; want \"abcd\" and EOF", got, err)
		}
		if err := h.waitClosed(t, 5*time.Second); err != nil {
			t.Fatalf("OnClose reason = %v, want nil", err)
		}
	})
}
