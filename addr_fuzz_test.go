package eddy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/eddyio/eddy/internal/testdns"
)

// wantFamily reports whether network takes the IP address a, as package net's resolver filters
// addresses: tcp4 an IPv4 address (an IPv4-mapped IPv6 one too) and the IPv6 unspecified address,
// which it takes as 0.0.0.0 (net.Listen("tcp4", "[::]:0") listens on 0.0.0.0; found by the fuzzer:
// testdata/fuzz/FuzzParseEndpoint/d20001ad7071af62), tcp6 any other, tcp both.
func wantFamily(network string, a netip.Addr) bool {
	switch network {
	case "tcp4":
		return a.Unmap().Is4() || v6Unspecified(a)
	case "tcp6":
		return a.Is6() && !a.Is4In6()
	}
	return true
}

// FuzzParseEndpoint checks parseEndpoint against the grammar its doc gives: a scheme of tcp, tcp4,
// tcp6 or unix before "://" (tcp without one); for unix a non-empty path, taken as it is; for tcp an
// IP address and port, which netip parses the same (zone included), of the scheme's family, or a
// host name, looked up without a name server here (testdns), which must resolve to an address of the
// family, the one package net chooses (wantAddrs, chosenAddr); the port is package net's. An IP
// address is never looked up, every error names the value, and an accepted tcp endpoint written
// back out (TCPAddr.String) parses to the same address.
func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{
		"tcp://127.0.0.1:80", "127.0.0.1:0", "tcp4://127.0.0.1:65535", "tcp6://[::1]:8080", "tcp://[::1]:1",
		"tcp://:9000", "tcp4://:0", "tcp6://:1", "tcp://[fe80::1%eth0]:80", "tcp6://[::ffff:127.0.0.1]:80",
		"tcp4://[::ffff:127.0.0.1]:80", "tcp4://[::1]:80", "tcp6://127.0.0.1:80", "tcp://localhost:80",
		"tcp://127.0.0.1:http", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:65536",
		"tcp://127.0.0.1:-1", "tcp://127.0.0.1:+1", "unix:///tmp/x.sock", "unix://@abstract", "unix://",
		"udp://127.0.0.1:53", "://x", "tcp://1.2.3.4%eth0:80", "tcp://[1.2.3.4]:80", "tcp://01.2.3.4:80",
		"tcp://[::1%25]:80", "tcp://[::1]:0080", "TCP://127.0.0.1:80",
		"tcp6://localhost:80", "tcp4://localhost:80", "tcp://[localhost]:80", "tcp://LOCALHOST.:http",
		"localhost:+80", "tcp://localhost:65536", "tcp://localhost%lo:80", "tcp://no-such-host.invalid:80",
		"tcp://localhost:", "tcp://localhost:-0", "tcp://127.0.0.1:99999999999999999999",
	} {
		f.Add(s)
	}
	queries := testdns.NoLookups(f)
	f.Fuzz(func(t *testing.T, s string) {
		before := queries.Load()
		e, err := parseEndpoint(s)
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
			t.Fatalf("parseEndpoint(%q): error %q does not name the value", s, err)
		}
		network, rest, ok := strings.Cut(s, "://")
		if !ok {
			network, rest = "tcp", s
		}
		switch network {
		case "unix":
			if (err == nil) != (rest != "") {
				t.Fatalf("parseEndpoint(%q) = %v; want an error only for an empty path", s, err)
			}
			if err == nil && (e.unix == nil || e.unix.Name != rest || e.tcp != nil || e.network != "unix") {
				t.Fatalf("parseEndpoint(%q) = %+v; want the unix path %q", s, e, rest)
			}
			return
		case "tcp", "tcp4", "tcp6":
		default:
			if err == nil {
				t.Fatalf("parseEndpoint(%q) took the unknown network %q", s, network)
			}
			return
		}
		// netip takes a zone with any octets, ']' too ("[::%0]0]:0"), where package net's host:port
		// grammar, which Listen and Dial follow, ends the host at the first ']': judge by netip only
		// what net.SplitHostPort splits the same way.
		if ap, perr := netip.ParseAddrPort(rest); perr == nil && splitsLikeNetip(rest, ap) {
			// An IP address and a decimal port, as netip writes them back.
			if n := queries.Load() - before; n != 0 {
				t.Fatalf("parseEndpoint(%q) sent %d queries to a name server for an IP address", s, n)
			}
			if want := wantFamily(network, ap.Addr()); (err == nil) != want {
				t.Fatalf("parseEndpoint(%q) = %v; want it taken: %t (%s address on %s)", s, err, want, ap.Addr(), network)
			}
			if err != nil {
				return
			}
			wantIP, wantZone := ap.Addr().WithZone("").Unmap(), ap.Addr().Zone()
			if network == "tcp4" && v6Unspecified(ap.Addr()) {
				wantIP, wantZone = netip.IPv4Unspecified(), ""
			}
			got, gok := netip.AddrFromSlice(e.tcp.IP)
			if !gok || got.Unmap() != wantIP || e.tcp.Zone != wantZone || e.tcp.Port != int(ap.Port()) {
				t.Fatalf("parseEndpoint(%q) = %v (zone %q); want %v", s, e.tcp, e.tcp.Zone, ap)
			}
		}
		host, port, serr := net.SplitHostPort(rest)
		if serr != nil || port == "" {
			if err == nil {
				t.Fatalf("parseEndpoint(%q) = %v; want an error: not host:port with a port", s, e.tcp)
			}
			return
		}
		// The port as package net takes it (a decimal number, a sign before it even, or a service
		// name), and digits alone as the decimal number they write.
		wantPort, perr := net.DefaultResolver.LookupPort(context.Background(), network, port)
		if strings.Trim(port, "0123456789") == "" {
			v, verr := strconv.ParseUint(port, 10, 64)
			if (perr == nil) != (verr == nil && v <= 65535) || perr == nil && uint64(wantPort) != v {
				t.Fatalf("package net takes the port %q as %d, %v", port, wantPort, perr)
			}
		}
		if perr != nil {
			if err == nil {
				t.Fatalf("parseEndpoint(%q) = %v; want an error for the port %q: %v", s, e.tcp, port, perr)
			}
			return
		}
		// A host name: resolved (from the hosts file only, here) to the addresses of the network's
		// family, as package net chooses among them; one that resolves to none is an error.
		if _, ierr := netip.ParseAddr(host); ierr != nil && host != "" {
			addrs := wantAddrs(network, host)
			if (err == nil) != (len(addrs) > 0) {
				t.Fatalf("parseEndpoint(%q) = %v; the name %q has the %s addresses %v", s, err, host, network, addrs)
			}
			if err != nil {
				return
			}
			want := chosenAddr(network, rest, addrs)
			if got, ok := netip.AddrFromSlice(e.tcp.IP); !ok || got.Unmap() != want {
				t.Fatalf("parseEndpoint(%q) = %v; want %v of the name's %s addresses %v", s, e.tcp, want, network, addrs)
			}
		}
		if ip, ierr := netip.ParseAddr(host); ierr == nil && (err == nil) != wantFamily(network, ip) {
			t.Fatalf("parseEndpoint(%q) = %v; want it taken: %t (%s address on %s)", s, err, wantFamily(network, ip), ip, network)
		}
		if err != nil {
			return // a family the network does not take
		}
		if e.tcp == nil || e.unix != nil || e.network != network || e.address != rest || e.tcp.Port != wantPort {
			t.Fatalf("parseEndpoint(%q) = %+v; want the port %d", s, e, wantPort)
		}
		if host == "" && e.tcp.IP != nil {
			t.Fatalf("parseEndpoint(%q) = %v; want no IP address for an empty host", s, e.tcp)
		}
		if ip, ierr := netip.ParseAddr(host); ierr == nil && !wantFamily(network, ip) {
			t.Fatalf("parseEndpoint(%q) took a %s address on %s", s, ip, network)
		}
		again, err := parseEndpoint(network + "://" + e.tcp.String())
		if err != nil || again.tcp.String() != e.tcp.String() {
			t.Fatalf("parseEndpoint(%q) = %v; written back as %q it gives %v, %v", s, e.tcp, network+"://"+e.tcp.String(), again, err)
		}
	})
}

// wantAddrs returns the addresses of network's family (as package net filters them) that the name
// host resolves to, looked up apart from parseEndpoint (net.Resolver.LookupNetIP, all families, in
// the order the resolver gives them), unmapped.
func wantAddrs(network, host string) []netip.Addr {
	all, err := net.DefaultResolver.LookupNetIP(context.Background(), "ip", host)
	if err != nil {
		return nil
	}
	if len(all) == 1 && v6Unspecified(all[0]) {
		all = append(all, netip.IPv4Unspecified()) // package net's fallback (go.dev/issue/18806)
	}
	var addrs []netip.Addr
	for _, a := range all {
		a = a.Unmap()
		if network == "tcp" || (network == "tcp4") == a.Is4() {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// chosenAddr returns the address of addrs that package net dials or listens on for the host:port
// address: for tcp the first IPv4 one, or the first IPv6 one where the host is written in brackets,
// and the first one when there is none of that family; the first one for tcp4 and tcp6.
func chosenAddr(network, address string, addrs []netip.Addr) netip.Addr {
	if network == "tcp" {
		want6 := strings.Contains(address, "[")
		for _, a := range addrs {
			if a.Is4() != want6 {
				return a
			}
		}
	}
	return addrs[0]
}

// v6Unspecified reports whether a is the IPv6 unspecified address "::", with a zone or not.
func v6Unspecified(a netip.Addr) bool { return a.WithZone("") == netip.IPv6Unspecified() }

// splitsLikeNetip reports whether net.SplitHostPort splits address into a host that is ap's address
// (zone included).
func splitsLikeNetip(address string, ap netip.AddrPort) bool {
	host, _, err := net.SplitHostPort(address)
	a, aerr := netip.ParseAddr(host)
	return err == nil && aerr == nil && a == ap.Addr()
}

// FuzzParseEngineKind checks that ParseEngineKind takes exactly the four names, as they are written,
// and returns the name it was given.
func FuzzParseEngineKind(f *testing.F) {
	for _, s := range []string{"auto", "epoll", "std", "uring", "", "Auto", "EPOLL", " std", "uring\x00", "io_uring"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseEngineKind(s)
		known := s == "auto" || s == "epoll" || s == "std" || s == "uring"
		if (err == nil) != known || err == nil && string(k) != s || err != nil && k != "" {
			t.Fatalf("ParseEngineKind(%q) = %q, %v", s, k, err)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", s)) {
			t.Fatalf("ParseEngineKind(%q): error %q does not name the value", s, err)
		}
	})
}
