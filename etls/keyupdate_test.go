package etls_test

import (
	"bytes"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// TestKeyUpdateAfterCloseWrite: the wrapped handler shuts down its sending side (CloseWrite:
// close_notify, then FIN) and goes on reading; the TLS 1.3 peer then asks for a key update
// (KeyUpdate with update_requested, as openssl s_client's "K" command sends) and sends more data
// under its new key. The server must read it, and must send nothing after its close_notify.
//
// Fixed bug: crypto/tls answers a KeyUpdate with update_requested by writing its own KeyUpdate at
// once; the raw connection, shut down for writing, refused the write, and crypto/tls then returns
// without switching to the peer's new read key (conn.go, handleKeyUpdate: "Surface the error at the
// next write"). The peer's next record failed authentication: OnClose reported "bad record MAC",
// the rest of the upload was lost and the peer got a bad_record_mac alert (over package net the same
// happens after tls.Conn.CloseWrite and a TCP shutdown). Since nothing may follow close_notify, and
// RFC 8446 section 4.6.3 only asks for the answer before the next application data, which will never
// come, the pipe now drops what crypto/tls writes after the close_notify, and reports it written.
func TestKeyUpdateAfterCloseWrite(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		cl := newCloseLog()
		var mu sync.Mutex
		var got bytes.Buffer
		h := &advH{closed: cl.onClose}
		h.data = func(c eddy.Conn) {
			cl.after(c, "OnData")
			b, _ := c.Next(-1)
			if string(b) == "go" {
				c.Write([]byte("bye"))
				if err := c.CloseWrite(); err != nil {
					t.Errorf("CloseWrite: %v", err)
				}
				return
			}
			mu.Lock()
			got.Write(b)
			mu.Unlock()
		}
		addr := serve(t, k, etls.Server(h, p.server))
		c := dialHJ13(t, addr, p)
		c.send(t, c.data([]byte("go")))
		b, err := io.ReadAll(c.tc)
		if err != nil || string(b) != "bye" {
			t.Fatalf("client read %q, %v; want \"bye\" and close_notify", b, err)
		}
		after := make(chan int64, 1)
		go func() { // what the server sends after its close_notify, until it closes
			n, _ := io.Copy(io.Discard, c.nc)
			after <- n
		}()
		c.send(t, c.data([]byte("before-")), c.keyUpdate(true), c.data([]byte("after")))
		time.Sleep(100 * time.Millisecond)
		c.send(t, c.w.seal(21, []byte{1, 0})) // close_notify
		err = cl.wait(t, 5*time.Second)
		mu.Lock()
		s := got.String()
		mu.Unlock()
		if err != io.EOF || s != "before-after" {
			t.Errorf("OnClose: %v, OnData got %q; want io.EOF and \"before-after\"", err, s)
		}
		c.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
		if n := <-after; n > 0 {
			t.Errorf("the server sent %d bytes after its close_notify", n)
		}
		cl.check(t)
	})
}
