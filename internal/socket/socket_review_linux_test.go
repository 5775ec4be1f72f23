package socket

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// PeerUnixPath's doc: "" for an unnamed peer (the usual client). getpeername(2) of an unnamed peer gives
// only the family, and x/sys's anyToSockaddr reads the zeroed path as an abstract name: it returned "@",
// and the engines' notePeerPath allocated a connExtra for every accepted Unix connection (found by the
// review of session 19's own changes).
func TestPeerUnixPathOfAnUnnamedPeer(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if p := PeerUnixPath(fds[0]); p != "" {
		t.Errorf("PeerUnixPath of an unnamed peer = %q, want \"\" (its doc)", p)
	}
}

// Acceptor "accepts connections without allocating" (its doc), and addrPort is its per-connection
// conversion (also PeerAddrPort's, for every io_uring accept). A peer address with a scope (a link-local
// client) is given its zone through zoneName, net.InterfaceByIndex: a netlink dump of every interface
// and a few dozen allocations, on the loop's goroutine; zoneName caches it now.
func TestAddrPortOfAScopedPeerDoesNotAllocate(t *testing.T) {
	var raw unix.RawSockaddrAny
	p := (*unix.RawSockaddrInet6)(unsafe.Pointer(&raw))
	p.Family = unix.AF_INET6
	p.Addr = [16]byte{0xfe, 0x80, 15: 1}
	p.Port = 0x5000
	p.Scope_id = 1 // lo: an index that always exists
	if ap := addrPort(&raw); ap.Addr().Zone() == "" {
		t.Fatalf("addrPort = %v: no zone", ap)
	}
	if n := testing.AllocsPerRun(100, func() { addrPort(&raw) }); n != 0 {
		t.Errorf("addrPort of a scoped IPv6 peer allocates %.0f times per accepted connection (Acceptor: \"without allocating\")", n)
	}
}
