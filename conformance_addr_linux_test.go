package eddy_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// RemoteAddr "returns the peer's address" (conn.go): for a connection dialled to a unix socket that is the
// socket's path, as getpeername(2) and package net report it.
func TestDialledUnixConnRemoteAddr(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		path := filepath.Join(t.TempDir(), "peer.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			if c, err := ln.Accept(); err == nil {
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				c.Read(make([]byte, 1))
			}
		}()
		cl := startClient(t, kind, &clientHandler{got: make(chan string, 1)})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := cl.Dial(ctx, "unix://"+path).Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ra := c.RemoteAddr()
		if ra == nil || ra.String() != path || ra.Network() != "unix" {
			t.Fatalf("RemoteAddr of a connection dialled to %s = %#v", path, ra)
		}
	})
}
