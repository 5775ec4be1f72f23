package etls_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// sniffPlainHTTP is what a server does with a client that spoke plain HTTP to its TLS port, on the
// net.Conn of the tls.RecordHeaderError: read a little more of the request under a read deadline (for
// its Host, say, to redirect), then answer and close. It reports the read's error.
func sniffPlainHTTP(err error, readErr chan<- error) {
	var re tls.RecordHeaderError
	if !errors.As(err, &re) || re.Conn == nil {
		readErr <- errors.New("no tls.RecordHeaderError with a Conn: " + err.Error())
		return
	}
	re.Conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var rerr error
	buf := make([]byte, 512)
	for rerr == nil {
		_, rerr = re.Conn.Read(buf)
	}
	readErr <- rerr
	io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nuse https\n")
	re.Conn.Close()
}

// The net.Conn that crypto/tls gives a handler in a tls.RecordHeaderError (and in ClientHelloInfo.Conn)
// honours read deadlines, as the net.Conn under a crypto/tls server does. etls's pipe ignored them: a
// read from OnHandshakeError waited for the peer's next bytes or its close, however long, holding the
// handshake's goroutine and the connection (which is closed only once OnHandshakeError returns); a
// client that sent half a plain request and nothing more kept both for ever (session 44).
func TestHandshakeConnReadDeadline(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		readErr := make(chan error, 2)
		h := etls.Server(&advH{}, p.server)
		h.OnHandshakeError = func(_ eddy.Conn, err error) { sniffPlainHTTP(err, readErr) }
		eaddr := serve(t, k, h)

		baddr := tlsBaseline(t, p.server, func(err error) { sniffPlainHTTP(err, readErr) })

		for _, s := range []struct{ name, addr string }{{"crypto/tls", baddr}, {"etls", eaddr}} {
			nc, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			// Half a request, and then silence (the connection stays open).
			if _, err := nc.Write([]byte("GET / HTTP/1.1\r\nHo")); err != nil {
				t.Fatal(err)
			}
			nc.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(nc)
			if err != nil || string(got) != "HTTP/1.0 400 Bad Request\r\n\r\nuse https\n" {
				t.Fatalf("%s: the client read %q, %v; want the answer and the end", s.name, got, err)
			}
			select {
			case rerr := <-readErr:
				var ne net.Error
				if !errors.As(rerr, &ne) || !ne.Timeout() {
					t.Errorf("%s: the read under a deadline ended with %v, want a timeout", s.name, rerr)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s: the handler's read did not end", s.name)
			}
		}
	})
}
