package eddy_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A listener that is not a stream socket, adopted with WithListeners: a unixpacket (SOCK_SEQPACKET)
// listener, and a unixgram socket wrapped as a *net.UnixListener by net.FileListener, were taken, served
// as stream connections and given TCP options. New refuses them now, on every engine, naming the
// listener's network and address, before anything starts; the caller keeps the listener.

// nonStreamListeners returns, by name, a unixpacket listener and a unixgram socket seen as a listener.
func nonStreamListeners(t *testing.T) map[string]net.Listener {
	t.Helper()
	dir := t.TempDir()
	lns := map[string]net.Listener{}
	pk, err := net.Listen("unixpacket", filepath.Join(dir, "packet.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pk.Close() })
	lns["unixpacket"] = pk

	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: filepath.Join(dir, "gram.sock")}); err != nil {
		syscall.Close(fd)
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(fd), "gram")
	gram, err := net.FileListener(f)
	f.Close()
	if err != nil {
		t.Logf("net.FileListener of a unixgram socket: %v (not tested)", err)
	} else {
		t.Cleanup(func() { gram.Close() })
		lns["unixgram"] = gram
	}
	return lns
}

func TestWithListenersRefusesNonStreamSockets(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for network, ln := range nonStreamListeners(t) {
			path := ln.Addr().String()
			e, err := eddy.New(newEcho(false), nil, eddy.WithEngine(kind), eddy.WithListeners(ln))
			if err == nil {
				serr := e.Start()
				e.Stop(context.Background())
				t.Fatalf("%s: New took a %s listener (Start: %v), want an error", kind, network, serr)
			}
			if msg := err.Error(); !strings.Contains(msg, network) || !strings.Contains(msg, path) {
				t.Fatalf("%s: New's error %q names neither the network %q nor the address %q", kind, msg, network, path)
			}
			// Refused by New, the listener is still the caller's: open, its file in place.
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("%s: the %s listener's file after the refusal: %v", kind, network, err)
			}
			if network == "unixpacket" {
				c, err := net.DialTimeout("unixpacket", path, 5*time.Second)
				if err != nil {
					t.Fatalf("%s: the refused unixpacket listener no longer takes connections: %v", kind, err)
				}
				c.Close()
			}
		}
	})
}

// A stream listener among them does not make New take the others.
func TestWithListenersRefusesMixedList(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	pk := nonStreamListeners(t)["unixpacket"]
	if _, err := eddy.New(newEcho(false), nil, eddy.WithListeners(tcp, pk)); err == nil || !strings.Contains(err.Error(), "listener 1") {
		t.Fatalf("New with a tcp and a unixpacket listener: %v, want an error about listener 1", err)
	}
}
