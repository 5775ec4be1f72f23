package main

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// https load, on every engine: every request answered over the TLS connections, each opened once;
// without --insecure an untrusted certificate fails every dial, and the run.
func TestLoadHTTPS(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "not TLS", 500)
			return
		}
		io.WriteString(w, "Hello, World!")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes of the last case
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	for _, e := range loadEngines() {
		t.Run(e, func(t *testing.T) {
			before := conns.Load()
			code, r, stderr := runLoadJSON(t, "--url", srv.URL+"/", "--insecure", "--engine", e, "--conns", "4", "--requests", "400", "--duration", "10s")
			if code != exitOK || r.RoundTrips != 400 || r.Errors != 0 {
				t.Fatalf("exit %d, %d round trips, %d errors (%q)\n%s", code, r.RoundTrips, r.Errors, r.FirstError, stderr)
			}
			if n := conns.Load() - before; n != 4 {
				t.Errorf("%d TLS connections, want 4 (kept alive)", n)
			}
		})
	}
	code, _, stderr := runLoadJSON(t, "--url", srv.URL+"/", "--conns", "2", "--requests", "10", "--duration", "5s")
	if code != exitFail || !strings.Contains(stderr, "certificate") {
		t.Fatalf("without --insecure: exit %d\n%s", code, stderr)
	}
}
