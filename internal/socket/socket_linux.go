package socket

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Listen opens a non-blocking listening socket on addr (a *net.TCPAddr or *net.UnixAddr) for the given
// network ("tcp", "tcp4", "tcp6" or "unix"). With reusePort, SO_REUSEPORT is set so several loops may
// listen on the same port. It returns the descriptor and the bound address (with the real port when the
// requested one was 0).
func Listen(network string, addr net.Addr, reusePort bool, backlog int) (int, net.Addr, error) {
	fd, err := bound(network, addr, reusePort)
	if err != nil {
		return -1, nil, err
	}
	if err := unix.Listen(fd, backlog); err != nil {
		unix.Close(fd)
		return -1, nil, os.NewSyscallError("listen", err)
	}
	local, err := LocalAddr(fd)
	if err != nil {
		unix.Close(fd)
		return -1, nil, err
	}
	return fd, local, nil
}

// bound returns a non-blocking stream socket bound to addr, with Listen's options.
func bound(network string, addr net.Addr, reusePort bool) (int, error) {
	family, sa, err := sockaddr(network, listenAddr(network, addr))
	if err != nil {
		return -1, err
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err == unix.EAFNOSUPPORT && family == unix.AF_INET6 && network == "tcp" {
		if ta, ok := addr.(*net.TCPAddr); ok && (ta.IP == nil || ta.IP.IsUnspecified()) {
			// A kernel without IPv6 (booted with ipv6.disable=1): package net listens on IPv4
			// alone for a wildcard on "tcp" then, and so do the engines.
			family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: ta.Port}
			fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		}
	}
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	fail := func(call string, err error) (int, error) {
		unix.Close(fd)
		return -1, os.NewSyscallError(call, err)
	}
	if family != unix.AF_UNIX {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
			return fail("setsockopt", err)
		}
		if reusePort {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
				return fail("setsockopt", err)
			}
		}
		if family == unix.AF_INET6 {
			// set either way, as package net sets it: the system's default (net.ipv6.bindv6only)
			// would otherwise decide whether tcp://[::]:port takes IPv4 clients
			v6only := 0
			if network == "tcp6" {
				v6only = 1
			}
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
				return fail("setsockopt", err)
			}
		}
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	return fd, nil
}

// CheckFree reports whether a listening socket could bind addr on its own, as Listen without reusePort
// would: nil when it could or when addr asks for any port (0), otherwise the bind error, EADDRINUSE when
// another socket, an SO_REUSEPORT group included, holds the address. The check binds a socket and closes
// it again: a socket that takes the address in between is not seen.
func CheckFree(network string, addr net.Addr) error {
	if ta, ok := addr.(*net.TCPAddr); !ok || ta.Port == 0 {
		return nil
	}
	fd, err := bound(network, addr, false)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// listenAddr returns the address a listening socket binds for addr: on "tcp", an unspecified host,
// IPv4's (0.0.0.0) included, is IPv6's (::), whose socket is dual-stack, as package net listens on
// all the machine's addresses for it ("to only use IPv4, use network tcp4"), and IPv4's alone on a
// kernel without IPv6 (bound). Before session 31 the Linux engines bound an IPv4-only socket for
// tcp://0.0.0.0:port, which the std engine serves IPv6 clients on too.
func listenAddr(network string, addr net.Addr) net.Addr {
	if ta, ok := addr.(*net.TCPAddr); ok && network == "tcp" && ta.IP != nil && ta.IP.IsUnspecified() {
		return &net.TCPAddr{IP: net.IPv6unspecified, Port: ta.Port, Zone: ta.Zone}
	}
	return addr
}

// sockaddr converts an address to the kernel form, choosing the address family like package net
// does: an IPv6 host (or none) on "tcp" gives an AF_INET6 socket, IPv4's an AF_INET one. A listening
// socket takes its address through listenAddr first.
func sockaddr(network string, addr net.Addr) (int, unix.Sockaddr, error) {
	switch a := addr.(type) {
	case *net.UnixAddr:
		return unix.AF_UNIX, &unix.SockaddrUnix{Name: a.Name}, nil
	case *net.TCPAddr:
		ip4 := a.IP.To4()
		switch {
		case network == "tcp4" || (ip4 != nil && network != "tcp6"):
			if a.IP != nil && ip4 == nil {
				return 0, nil, &net.AddrError{Err: "not an IPv4 address", Addr: a.String()}
			}
			sa := &unix.SockaddrInet4{Port: a.Port}
			if ip4 != nil {
				copy(sa.Addr[:], ip4)
			}
			return unix.AF_INET, sa, nil
		default:
			sa := &unix.SockaddrInet6{Port: a.Port}
			if a.IP != nil {
				copy(sa.Addr[:], a.IP.To16())
			}
			if a.Zone != "" { // a scoped address (fe80::1%eth0): the kernel wants the interface's index
				id, err := zoneIndex(a.Zone)
				if err != nil {
					return 0, nil, &net.AddrError{Err: "unknown zone: " + err.Error(), Addr: a.String()}
				}
				sa.ZoneId = id
			}
			return unix.AF_INET6, sa, nil
		}
	}
	return 0, nil, &net.AddrError{Err: "unsupported address type", Addr: addr.String()}
}

// zoneIndex returns the interface index an IPv6 zone names: an interface's name, or its index in
// decimal, as package net takes it.
func zoneIndex(zone string) (uint32, error) {
	if ifc, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifc.Index), nil
	}
	n, err := strconv.ParseUint(zone, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("no interface %q", zone)
	}
	return uint32(n), nil
}

// zoneName returns the zone of the interface index id, its name when it has one (as package net
// shows it), else the index. The names of the first interfaces are cached: a lookup is a netlink dump
// of every interface, and an accept from a link-local peer must not make one (nor allocate) each time.
// A renamed interface keeps its old name here, as package net's cache keeps it for a minute.
func zoneName(id uint32) string {
	if id < uint32(len(zoneNames)) {
		if p := zoneNames[id].Load(); p != nil {
			return *p
		}
	}
	name := strconv.FormatUint(uint64(id), 10)
	if ifc, err := net.InterfaceByIndex(int(id)); err == nil {
		name = ifc.Name
		if id < uint32(len(zoneNames)) {
			zoneNames[id].Store(&name)
		}
	}
	return name
}

// zoneNames caches zoneName's answers for the first interface indexes.
var zoneNames [64]atomic.Pointer[string]

// Acceptor accepts connections without allocating: it keeps the kernel address buffer between calls. It
// is used by one loop at a time.
type Acceptor struct {
	raw unix.RawSockaddrAny
	len uint32

	// FaultForTest, when set, is called before each accept4; a non-nil error is taken as accept4's.
	// Only tests set it (the engine's, which live in another package): accept's rarer errors cannot be
	// provoked on loopback.
	FaultForTest func() error
}

// Accept accepts one connection from the listening socket lfd as a non-blocking, close-on-exec socket and
// returns its descriptor and the peer's address (the zero AddrPort for a unix socket). It returns
// unix.EAGAIN when no connection is pending.
func (a *Acceptor) Accept(lfd int) (int, netip.AddrPort, error) {
	for {
		if a.FaultForTest != nil {
			if err := a.FaultForTest(); err != nil {
				if err == unix.EINTR || IsConnAcceptError(err) {
					continue
				}
				return -1, netip.AddrPort{}, err
			}
		}
		a.len = uint32(unsafe.Sizeof(a.raw))
		r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(&a.raw)),
			uintptr(unsafe.Pointer(&a.len)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
		switch {
		case errno == 0:
			return int(r), addrPort(&a.raw), nil
		case errno == unix.EINTR || IsConnAcceptError(errno):
			continue // the connection failed on its way in (or the call was interrupted): take the next one
		}
		return -1, netip.AddrPort{}, errno
	}
}

// PeerUnixPath returns the path of the Unix socket fd is connected to, as getpeername(2) tells it:
// "" for an unnamed peer (the usual client: an address of the family alone, which x/sys and package
// net would show as "@"), "@name" for an abstract one, as package net writes it.
func PeerUnixPath(fd int) string {
	var raw unix.RawSockaddrAny
	n := uint32(unsafe.Sizeof(raw))
	if _, _, errno := unix.Syscall(unix.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&raw)),
		uintptr(unsafe.Pointer(&n))); errno != 0 || raw.Addr.Family != unix.AF_UNIX {
		return ""
	}
	const pathAt = 2 // offsetof(struct sockaddr_un, sun_path)
	if n <= pathAt {
		return ""
	}
	pu := (*unix.RawSockaddrUnix)(unsafe.Pointer(&raw))
	path := make([]byte, 0, n-pathAt)
	for i := 0; i < int(n-pathAt) && i < len(pu.Path); i++ {
		c := byte(pu.Path[i])
		if c == 0 {
			if i > 0 {
				break // a path ends at its NUL
			}
			c = '@' // an abstract name's leading NUL, as package net shows it
		}
		path = append(path, c)
	}
	return string(path)
}

// IsConnAcceptError reports whether an accept error belongs to the one connection accept was taking, not
// to the listener: ECONNABORTED (the peer gave up first) and the network errors that Linux's accept
// passes on from the new socket, which accept(2) says to treat like EAGAIN and retry: for TCP, ENETDOWN,
// EPROTO, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP and ENETUNREACH. The connection
// is gone; the listener's queue holds the next ones.
func IsConnAcceptError(err error) bool {
	switch err {
	case syscall.ECONNABORTED, syscall.ENETDOWN, syscall.EPROTO, syscall.ENOPROTOOPT, syscall.EHOSTDOWN,
		syscall.ENONET, syscall.EHOSTUNREACH, syscall.EOPNOTSUPP, syscall.ENETUNREACH:
		return true
	}
	return false
}

// PeerAddrPort returns the peer address of the accepted socket fd (the zero AddrPort for a unix socket)
// through the acceptor's address buffer, so it does not allocate. It is for sockets accepted without an
// address, such as those of an io_uring multishot accept.
//
// A peer may reset the connection between the accept and the question, and getpeername then fails with
// ENOTCONN. getsockopt(SO_PEERNAME) still tells the address the connection had, as accept4 does, but
// only into a buffer no longer than the address (EINVAL otherwise; a shorter one gets a truncated
// address): the IPv6 size is tried, then IPv4's.
func (a *Acceptor) PeerAddrPort(fd int) (netip.AddrPort, error) {
	a.len = uint32(unsafe.Sizeof(a.raw))
	_, _, errno := unix.Syscall(unix.SYS_GETPEERNAME, uintptr(fd), uintptr(unsafe.Pointer(&a.raw)),
		uintptr(unsafe.Pointer(&a.len)))
	if errno == unix.ENOTCONN {
		for _, size := range [...]uintptr{unix.SizeofSockaddrInet6, unix.SizeofSockaddrInet4} {
			a.len = uint32(size)
			_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_SOCKET, unix.SO_PEERNAME,
				uintptr(unsafe.Pointer(&a.raw)), uintptr(unsafe.Pointer(&a.len)), 0)
			if e == 0 {
				return addrPort(&a.raw), nil
			}
		}
	}
	if errno != 0 {
		return netip.AddrPort{}, os.NewSyscallError("getpeername", errno)
	}
	return addrPort(&a.raw), nil
}

// addrPort converts a raw IPv4 or IPv6 socket address; other families give the zero value.
func addrPort(raw *unix.RawSockaddrAny) netip.AddrPort {
	switch raw.Addr.Family {
	case unix.AF_INET:
		p := (*unix.RawSockaddrInet4)(unsafe.Pointer(raw))
		port := uint16(p.Port>>8) | uint16(p.Port<<8)
		return netip.AddrPortFrom(netip.AddrFrom4(p.Addr), port)
	case unix.AF_INET6:
		p := (*unix.RawSockaddrInet6)(unsafe.Pointer(raw))
		port := uint16(p.Port>>8) | uint16(p.Port<<8)
		a := netip.AddrFrom16(p.Addr).Unmap()
		if p.Scope_id != 0 { // a link-local peer: its address means nothing without the interface
			a = a.WithZone(zoneName(p.Scope_id))
		}
		return netip.AddrPortFrom(a, port)
	}
	return netip.AddrPort{}
}

// SetNoDelay sets TCP_NODELAY.
func SetNoDelay(fd int, on bool) error {
	return setInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, on)
}

// KeepAliveCount is the number of unanswered keep-alive probes after which the kernel drops a
// connection, as package net sets it (net.KeepAliveConfig with Count 0) whatever the system's default
// (net.ipv4.tcp_keepalive_probes) or a listener's setting, which an accepted socket inherits.
const KeepAliveCount = 9

// SetKeepAlive enables keep-alive probes after d of idleness, repeated every d, KeepAliveCount of them.
func SetKeepAlive(fd int, d time.Duration) error {
	if err := setInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, true); err != nil {
		return err
	}
	secs := max(int((d+time.Second-1)/time.Second), 1) // rounded up, as package net does
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	if err := unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPCNT, KeepAliveCount); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	return nil
}

// DisableKeepAlive clears SO_KEEPALIVE, which an accepted socket may have from its listener (the kernel
// copies it, as it copies TCP_NODELAY, from the listening socket).
func DisableKeepAlive(fd int) error {
	return setInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE, false)
}

// ListenBacklog returns the accept queue length to ask listen(2) for: net.core.somaxconn, the most the
// kernel gives, as package net asks for it, read once (the std engine's listeners, opened by package
// net, get the same). Before session 32 the Linux engines asked for 4096 whatever it said, so a
// system with a larger somaxconn gave their listeners a shorter queue than std's. fallback is taken
// when the file cannot be read.
func ListenBacklog(fallback int) int {
	if n := somaxconn(); n > 0 {
		return n
	}
	return fallback
}

// somaxconn reads net.core.somaxconn once, 0 when it cannot; as package net, it keeps a value above
// 65535 only where the kernel's backlog is 32 bits wide (Linux 4.1 on).
var somaxconn = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return 0
	}
	if n > 1<<16-1 && !kernelAtLeast(4, 1) {
		n = 1<<16 - 1
	}
	return n
})

// kernelAtLeast reports whether the running kernel's release is major.minor or later.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return false
	}
	rel := unix.ByteSliceToString(u.Release[:])
	ma, rest, _ := strings.Cut(rel, ".")
	mi, _, _ := strings.Cut(rest, ".")
	if i := strings.IndexFunc(mi, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		mi = mi[:i] // "1-rc2"
	}
	a, err1 := strconv.Atoi(ma)
	b, err2 := strconv.Atoi(mi)
	if err1 != nil || err2 != nil {
		return false
	}
	return a > major || a == major && b >= minor
}

func setInt(fd, level, opt int, on bool) error {
	v := 0
	if on {
		v = 1
	}
	if err := unix.SetsockoptInt(fd, level, opt, v); err != nil {
		return os.NewSyscallError("setsockopt", err)
	}
	return nil
}

// LocalAddr returns the socket's local address as a *net.TCPAddr or *net.UnixAddr.
func LocalAddr(fd int) (net.Addr, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, os.NewSyscallError("getsockname", err)
	}
	return ToNetAddr(sa), nil
}

// PeerAddr returns the socket's peer address as a *net.TCPAddr or *net.UnixAddr.
func PeerAddr(fd int) (net.Addr, error) {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return nil, os.NewSyscallError("getpeername", err)
	}
	return ToNetAddr(sa), nil
}

// ToNetAddr converts a kernel socket address to a net.Addr.
func ToNetAddr(sa unix.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}
	case *unix.SockaddrInet6:
		ip := make(net.IP, net.IPv6len)
		copy(ip, a.Addr[:])
		ta := &net.TCPAddr{IP: ip, Port: a.Port}
		if a.ZoneId != 0 {
			ta.Zone = zoneName(a.ZoneId)
		}
		return ta
	case *unix.SockaddrUnix:
		return &net.UnixAddr{Name: a.Name, Net: "unix"}
	}
	return nil
}

// IsTemporaryAcceptError reports whether an accept error is resource exhaustion (EMFILE, ENFILE, ENOBUFS,
// ENOMEM), after which the caller should back off and retry rather than give up.
func IsTemporaryAcceptError(err error) bool {
	switch err {
	case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM:
		return true
	}
	return false
}

// Connect opens a non-blocking socket and starts connecting it to addr. The connection completes in the
// background: the socket becomes writable, and ConnectResult tells how it ended.
func Connect(network string, addr net.Addr) (int, error) {
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP == nil && network == "tcp" {
		// No host (":8080"): package net dials it over IPv4, reaching a listener on 127.0.0.1 as
		// well as a dual-stack one; sockaddr's choice for listening, IPv6, would miss the first.
		network = "tcp4"
	}
	family, sa, err := sockaddr(network, addr)
	if err != nil {
		return -1, err
	}
	if ta, ok := addr.(*net.TCPAddr); ok && (ta.IP == nil || ta.IP.IsUnspecified()) {
		// like package net, dialling the unspecified address means the local system
		if family == unix.AF_INET {
			sa.(*unix.SockaddrInet4).Addr = [4]byte{127, 0, 0, 1}
		} else {
			sa.(*unix.SockaddrInet6).Addr[15] = 1
		}
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	for {
		err = unix.Connect(fd, sa)
		if err != unix.EINTR {
			break
		}
	}
	switch err {
	case nil, unix.EINPROGRESS, unix.EALREADY:
		return fd, nil
	}
	unix.Close(fd)
	return -1, os.NewSyscallError("connect", err)
}

// ConnectResult returns the outcome of a non-blocking connect once the socket is writable: nil when it
// connected, else the error (such as ECONNREFUSED).
func ConnectResult(fd int) error {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return os.NewSyscallError("getsockopt", err)
	}
	if v != 0 {
		return os.NewSyscallError("connect", unix.Errno(v))
	}
	return nil
}
