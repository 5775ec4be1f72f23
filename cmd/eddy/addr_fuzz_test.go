package main

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/internal/testdns"
)

// addrSeeds are addresses of every form, good and bad; more are in testdata/fuzz/FuzzSplitAddr.
var addrSeeds = []string{
	"127.0.0.1:9000", "tcp://127.0.0.1:9000", "tcp4://127.0.0.1:0", "tcp6://[::1]:80", "tcp://:80",
	"tcp4://[::1]:80", "tcp6://127.0.0.1:80", "tcp4://[::ffff:127.0.0.1]:80", "tcp://[fe80::1%eth0]:80",
	"tcp://127.0.0.1%lo:80", "tcp://[::1%]:80", "tcp://localhost:80", "tcp://example.invalid:80",
	"tcp://127.0.0.1:http", "tcp://127.0.0.1:65536", "tcp://127.0.0.1", "tcp://127.0.0.1:",
	"unix:///tmp/eddy.sock", "unix://@abstract", "unix://", "udp://127.0.0.1:53", "tcp://[1.2.3.4]:80",
	"unix:///" + strings.Repeat("d", 120),
}

// FuzzSplitAddr checks splitAddr against the engine's own parser (eddy.New, which starts nothing)
// on every address that parser can judge without a name server: the two take and refuse the same
// ones, as splitAddr's doc promises. It checks too that splitAddr never asks a name server, whatever
// the host, and returns the network and address the scheme names.
func FuzzSplitAddr(f *testing.F) {
	for _, s := range addrSeeds {
		f.Add(s)
	}
	queries := testdns.NoLookups(f)
	f.Fuzz(func(t *testing.T, s string) {
		before := queries.Load()
		network, address, err := splitAddr(s)
		if n := queries.Load() - before; n != 0 {
			t.Fatalf("splitAddr(%q) sent %d queries to a name server", s, n)
		}
		wantNet, wantAddr, ok := strings.Cut(s, "://")
		if !ok {
			wantNet, wantAddr = "tcp", s
		}
		if err == nil && (network != wantNet || address != wantAddr) {
			t.Fatalf("splitAddr(%q) = %q, %q; want %q, %q", s, network, address, wantNet, wantAddr)
		}
		if err != nil && !strings.Contains(err.Error(), "bad address") {
			t.Fatalf("splitAddr(%q): error %q", s, err)
		}
		// The engine's parser looks a host name up; judge by it only what needs no lookup.
		if host, _, serr := net.SplitHostPort(wantAddr); serr == nil && wantNet != "unix" && host != "" {
			if _, perr := netip.ParseAddr(host); perr != nil {
				return
			}
		}
		before = queries.Load()
		e, eerr := eddy.New(eddy.BaseHandler{}, []string{s}, eddy.WithEngine(eddy.EngineStd))
		if n := queries.Load() - before; n != 0 {
			return // a host that looked like an address but was not one
		}
		if e != nil {
			e.Stop(context.Background())
		}
		if (err == nil) != (eerr == nil) {
			t.Fatalf("splitAddr(%q) = %v, but the engine's parser says %v", s, err, eerr)
		}
	})
}
