package etls_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// holdAndFill holds raw's loop (on std, raw's own tasks) in a function of raw's Execute and fills
// the task queue behind it until Execute reports ErrQueueFull. It returns the function that lets
// the loop go, or an error.
func holdAndFill(raw eddy.Conn) (release func(), err error) {
	entered, held := make(chan struct{}), make(chan struct{})
	if err := raw.Execute(func(eddy.Conn) { close(entered); <-held }); err != nil {
		return nil, err
	}
	release = func() { close(held) }
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		release()
		return nil, errors.New("the loop never ran the holding task")
	}
	for i := 0; ; i++ {
		err := raw.Execute(func(eddy.Conn) {})
		if errors.Is(err, eddy.ErrQueueFull) {
			return release, nil
		}
		if err != nil || i > 1<<16 {
			release()
			return nil, errors.New("the task queue never filled")
		}
	}
}

// plainAnswer is what the handler writes to the RecordHeaderError's Conn.
const plainAnswer = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"

// A write to a tls.RecordHeaderError's Conn from OnHandshakeError, while the loop's task queue is
// full, failed at once with context.Canceled: the pipe waited for room only until the handshake's
// context ended, and that context is cancelled as the handshake returns, before OnHandshakeError
// runs. Nothing was cancelled. As a net.Conn's Write waits for room in the kernel's buffer, the
// write waits for room in the queue and is sent (session 61).
func TestRecordHeaderConnWriteQueueFull(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		type result struct {
			n        int
			err, hld error
		}
		res := make(chan result, 1)
		h := etls.Server(&advH{}, p.server)
		h.OnHandshakeError = func(c eddy.Conn, err error) {
			var re tls.RecordHeaderError
			if !errors.As(err, &re) || re.Conn == nil {
				res <- result{hld: errors.New("no tls.RecordHeaderError with a Conn: " + err.Error())}
				return
			}
			release, herr := holdAndFill(c)
			if herr != nil {
				res <- result{hld: herr}
				return
			}
			go func() { time.Sleep(50 * time.Millisecond); release() }()
			n, werr := io.WriteString(re.Conn, plainAnswer)
			re.Conn.Close()
			res <- result{n: n, err: werr}
		}
		addr := serve(t, k, h, eddy.WithTaskQueueCapacity(4), eddy.WithLoops(1))
		nc := sendPlainRequest(t, addr)
		var r result
		select {
		case r = <-res:
		case <-time.After(20 * time.Second):
			t.Fatal("OnHandshakeError did not return")
		}
		if r.hld != nil {
			t.Fatal(r.hld)
		}
		if r.err != nil || r.n != len(plainAnswer) {
			t.Fatalf("the write to the RecordHeaderError's Conn with the queue full: %d, %v; want %d, nil", r.n, r.err, len(plainAnswer))
		}
		nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(nc)
		if err != nil || string(got) != plainAnswer {
			t.Fatalf("the client read %q, %v; want the answer and the end", got, err)
		}
	})
}

// The wait of that write is bounded as a net.Conn's: by its write deadline (SetWriteDeadline, and
// SetDeadline), past which it fails with a timeout (os.ErrDeadlineExceeded, as the read does), and
// by the connection's end (ErrClosed). Both failed with context.Canceled before.
func TestRecordHeaderConnWriteQueueFullBounded(t *testing.T) {
	cases := []struct {
		name  string
		start func(c eddy.Conn, conn net.Conn) // before the write, with the queue full
		check func(err error) bool
		want  string
	}{
		{
			name:  "SetWriteDeadline",
			start: func(_ eddy.Conn, conn net.Conn) { conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond)) },
			check: func(err error) bool {
				var ne net.Error
				return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
			},
			want: "os.ErrDeadlineExceeded",
		},
		{
			name:  "SetDeadline",
			start: func(_ eddy.Conn, conn net.Conn) { conn.SetDeadline(time.Now().Add(200 * time.Millisecond)) },
			check: func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) },
			want:  "os.ErrDeadlineExceeded",
		},
		{
			name: "Abort",
			start: func(c eddy.Conn, _ net.Conn) {
				go func() { time.Sleep(50 * time.Millisecond); c.Abort(nil) }()
			},
			check: func(err error) bool { return errors.Is(err, eddy.ErrClosed) },
			want:  "eddy.ErrClosed",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forEngines(t, func(t *testing.T, k eddy.EngineKind) {
				p := getPKI(t)
				res := make(chan error, 1)
				h := etls.Server(&advH{}, p.server)
				h.OnHandshakeError = func(c eddy.Conn, err error) {
					var re tls.RecordHeaderError
					if !errors.As(err, &re) || re.Conn == nil {
						res <- errors.New("no tls.RecordHeaderError with a Conn: " + err.Error())
						return
					}
					release, herr := holdAndFill(c)
					if herr != nil {
						res <- herr
						return
					}
					defer release() // only once the write has returned
					tc.start(c, re.Conn)
					_, werr := io.WriteString(re.Conn, plainAnswer)
					re.Conn.Close()
					if werr == nil {
						werr = errors.New("nil")
					}
					res <- werr
				}
				addr := serve(t, k, h, eddy.WithTaskQueueCapacity(4), eddy.WithLoops(1))
				nc := sendPlainRequest(t, addr)
				select {
				case err := <-res:
					if !tc.check(err) {
						t.Fatalf("the write with the queue full ended with %v, want %s", err, tc.want)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("the write with the queue full did not end")
				}
				nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				if got, err := io.ReadAll(nc); len(got) != 0 && string(got) != plainAnswer {
					t.Fatalf("the client read %q, %v", got, err)
				}
			})
		})
	}
}

// pipeOps is what OnHandshakeError does with a tls.RecordHeaderError's Conn in
// TestRecordHeaderConnClosedAndDeadline, with the error of each step.
type pipeOps struct {
	pastDeadline error // a write past the write deadline
	answer       error // the answer, the deadline cleared
	close1       error
	writeAfter   error // a write after Close
	readAfter    error // a read after Close
	close2       error
}

func runPipeOps(err error) (ops pipeOps, _ error) {
	var re tls.RecordHeaderError
	if !errors.As(err, &re) || re.Conn == nil {
		return ops, errors.New("no tls.RecordHeaderError with a Conn: " + err.Error())
	}
	conn := re.Conn
	conn.SetWriteDeadline(time.Now().Add(-time.Second))
	_, ops.pastDeadline = conn.Write([]byte("not sent"))
	conn.SetWriteDeadline(time.Time{})
	_, ops.answer = io.WriteString(conn, plainAnswer)
	ops.close1 = conn.Close()
	_, ops.writeAfter = conn.Write([]byte("after close"))
	conn.SetReadDeadline(time.Now().Add(5 * time.Second)) // a read that waits fails as a timeout
	_, ops.readAfter = conn.Read(make([]byte, 16))
	ops.close2 = conn.Close()
	return ops, nil
}

// The Conn of a tls.RecordHeaderError behaves as the net.Conn under a crypto/tls server does: a
// write past its write deadline fails with a timeout (etls ignored write deadlines, and sent it),
// and once closed, its writes, reads and a second Close fail (etls accepted the write, and dropped
// it behind the queued close, a read waited for the connection's end, a second Close returned nil).
func TestRecordHeaderConnClosedAndDeadline(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		type result struct {
			ops pipeOps
			err error
		}
		res := make(chan result, 2)
		h := etls.Server(&advH{}, p.server)
		h.OnHandshakeError = func(_ eddy.Conn, err error) {
			ops, err := runPipeOps(err)
			res <- result{ops, err}
		}
		eaddr := serve(t, k, h)

		baddr := tlsBaseline(t, p.server, func(err error) {
			ops, err := runPipeOps(err)
			res <- result{ops, err}
		})

		for _, s := range []struct{ name, addr string }{{"crypto/tls", baddr}, {"etls", eaddr}} {
			nc, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(nc)
			if err != nil || string(got) != plainAnswer {
				t.Errorf("%s: the client read %q, %v; want the answer alone and the end", s.name, got, err)
			}
			var r result
			select {
			case r = <-res:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: OnHandshakeError did not return", s.name)
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			var ne net.Error
			if !errors.As(r.ops.pastDeadline, &ne) || !ne.Timeout() || !errors.Is(r.ops.pastDeadline, os.ErrDeadlineExceeded) {
				t.Errorf("%s: a write past the write deadline: %v, want a timeout", s.name, r.ops.pastDeadline)
			}
			if r.ops.answer != nil || r.ops.close1 != nil {
				t.Errorf("%s: the answer: %v, its Close: %v; want nil, nil", s.name, r.ops.answer, r.ops.close1)
			}
			for _, op := range []struct {
				name string
				err  error
			}{{"write", r.ops.writeAfter}, {"read", r.ops.readAfter}, {"second Close", r.ops.close2}} {
				switch {
				case op.err == nil:
					t.Errorf("%s: a %s after Close succeeded", s.name, op.name)
				case errors.As(op.err, &ne) && ne.Timeout():
					t.Errorf("%s: a %s after Close: %v, a timeout (it waited)", s.name, op.name, op.err)
				case s.name == "etls" && !(errors.Is(op.err, eddy.ErrClosed) && errors.Is(op.err, net.ErrClosed)):
					t.Errorf("%s: a %s after Close: %v, want eddy.ErrClosed and net.ErrClosed", s.name, op.name, op.err)
				}
			}
		}
	})
}

// sendPlainRequest dials addr and sends a plain HTTP request, as a client that does not know the port
// speaks TLS; the connection is closed at the test's end.
func sendPlainRequest(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if _, err := nc.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	return nc
}
