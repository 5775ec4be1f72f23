package etls

import (
	"net"
	"strings"
	"testing"
)

// FuzzDialHost checks the ServerName Dial takes from its address: for a tcp address (tcp://,
// tcp4://, tcp6:// or none) the host net.SplitHostPort finds after the scheme, the name tls.Dial
// would take from the same host:port, "" when there is none; for a unix address "".
func FuzzDialHost(f *testing.F) {
	for _, s := range []string{"example.com:443", "tcp://example.com:443", "tcp4://127.0.0.1:1", "tcp6://[::1]:443",
		"unix:///tmp/s", "unix://h:1", "h", "[::1]", "tcp://", ":443", "tcp://[fe80::1%eth0]:1", "udp://h:1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		got := dialHost(addr)
		network, rest, ok := strings.Cut(addr, "://")
		if !ok {
			network, rest = "tcp", addr
		}
		switch network {
		case "unix":
			if got != "" {
				t.Fatalf("dialHost(%q) = %q; want none for a unix address", addr, got)
			}
		case "tcp", "tcp4", "tcp6":
			want, _, err := net.SplitHostPort(rest)
			if err != nil {
				want = ""
			}
			if got != want {
				t.Fatalf("dialHost(%q) = %q; want %q", addr, got, want)
			}
		}
	})
}
