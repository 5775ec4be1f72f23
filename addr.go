package eddy

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/eddyio/eddy/internal/socket"
)

// endpoint is a parsed listen or dial address.
type endpoint struct {
	raw     string // as the user wrote it, for error messages
	network string // "tcp", "tcp4", "tcp6" or "unix"
	address string // host:port or a path
	tcp     *net.TCPAddr
	unix    *net.UnixAddr
	ln      net.Listener // an adopted listener (WithListeners), served instead of listening on address
}

// addr returns the endpoint as a net.Addr.
func (e *endpoint) addr() net.Addr {
	if e.unix != nil {
		return e.unix
	}
	return e.tcp
}

// parseEndpoint parses an address of the form tcp://host:port, tcp4://host:port, tcp6://[host]:port or
// unix:///path. An address without a scheme is taken as tcp. A host name is resolved now, so that a bad
// address fails before anything starts.
func parseEndpoint(s string) (*endpoint, error) {
	return parseEndpointName(s, true)
}

// hostName returns the host of a tcp address ("host:port") when it is a name that a name server may
// have to resolve, and "" for an IP address (with or without a zone) or no host, which package net
// resolves without a lookup.
func hostName(address string) string {
	host, _, err := net.SplitHostPort(address)
	if err != nil || host == "" {
		return ""
	}
	ip, _, _ := strings.Cut(host, "%")
	if net.ParseIP(ip) != nil {
		return ""
	}
	return host
}

// parseEndpointName is parseEndpoint, which resolves a host name when resolve is true; when it is
// false, an endpoint whose host is a name is checked for its form only and returned without its
// address (tcp is nil): Engine.DialWith looks the name up on a goroutine of its own, bounded by the
// dial's context (resolveEndpoint), as net.Dialer does, rather than on the caller's, which may be a
// loop.
func parseEndpointName(s string, resolve bool) (*endpoint, error) {
	network, rest, ok := strings.Cut(s, "://")
	if !ok {
		network, rest = "tcp", s
	}
	e := &endpoint{raw: s, network: network, address: rest}
	switch network {
	case "tcp", "tcp4", "tcp6":
		_, port, err := net.SplitHostPort(rest)
		if err != nil {
			return nil, fmt.Errorf("eddy: bad address %q: %w", s, err)
		}
		if port == "" {
			return nil, fmt.Errorf("eddy: bad address %q: missing port", s)
		}
		if !resolve && hostName(rest) != "" {
			// The port is checked now, as for an IP address, so that a malformed one fails at once
			// whatever the host: a number out of range, a service the services database does not
			// know (no name server is asked for a port).
			if _, err := net.LookupPort(network, port); err != nil {
				return nil, fmt.Errorf("eddy: bad address %q: %w", s, err)
			}
			return e, nil
		}
		a, err := net.ResolveTCPAddr(network, rest)
		if err != nil {
			return nil, fmt.Errorf("eddy: bad address %q: %w", s, err)
		}
		e.tcp = a
	case "unix":
		if rest == "" {
			return nil, fmt.Errorf("eddy: bad address %q: empty socket path", s)
		}
		e.unix = &net.UnixAddr{Name: rest, Net: "unix"}
	default:
		return nil, fmt.Errorf("eddy: bad address %q: unknown network %q (want tcp, tcp4, tcp6 or unix)", s, network)
	}
	return e, nil
}

// parseEndpoints parses every address to listen on; it fails on the first bad one. A socket path
// too long for the system is a bad address here, before anything starts, rather than bind's EINVAL
// once the engine starts (a Dial to one fails with connect's *OpError, as package net's). So is a zone
// that names no interface (checkZone), and an address listed twice: the std engine failed the second
// listen with EADDRINUSE at Start, while the Linux engines, given WithReusePort(true), put both in one
// SO_REUSEPORT group and served the port twice over without a word.
func parseEndpoints(addrs []string) ([]*endpoint, error) {
	eps := make([]*endpoint, 0, len(addrs))
	seen := make(map[string]string, len(addrs)) // listenKeys → the address that gave it first
	for _, s := range addrs {
		e, err := parseEndpoint(s)
		if err != nil {
			return nil, err
		}
		if e.unix != nil && len(e.address) > socket.UnixPathMax(e.address) {
			return nil, fmt.Errorf("eddy: bad address %q: socket path of %d bytes, longer than the %d this system takes",
				s, len(e.address), socket.UnixPathMax(e.address))
		}
		if err := checkZone(e); err != nil {
			return nil, err
		}
		for _, k := range e.listenKeys() {
			if first, dup := seen[k]; dup {
				return nil, fmt.Errorf("eddy: bad address %q: listed twice (%q is the same address)", s, first)
			}
		}
		for _, k := range e.listenKeys() {
			seen[k] = s
		}
		eps = append(eps, e)
	}
	return eps, nil
}

// listenKeys returns what two listen addresses that name the same socket address, or sockets that
// cannot both be bound, have in common: a Unix socket's path or abstract name as written, a TCP
// address and port with its zone. A wildcard is the unspecified address of the socket the engines
// open for it (no host, 0.0.0.0 or :: alike): 0.0.0.0 on tcp4, :: on tcp6, and both on tcp, whose
// socket is dual-stack (tcp://0.0.0.0:P is tcp://[::]:P, and takes the port of tcp4://0.0.0.0:P and
// tcp6://[::]:P too; session 31). There is none for port 0, which gives each listener a port of its
// own.
func (e *endpoint) listenKeys() []string {
	if e.unix != nil {
		return []string{"unix " + e.unix.Name}
	}
	if e.tcp == nil || e.tcp.Port == 0 {
		return nil
	}
	port := uint16(e.tcp.Port)
	if e.tcp.IP == nil || e.tcp.IP.IsUnspecified() {
		v4 := "tcp " + netip.AddrPortFrom(netip.IPv4Unspecified(), port).String()
		v6 := "tcp " + netip.AddrPortFrom(netip.IPv6Unspecified(), port).String()
		switch e.network {
		case "tcp4":
			return []string{v4}
		case "tcp6":
			return []string{v6}
		}
		return []string{v4, v6}
	}
	ip, _ := netip.AddrFromSlice(e.tcp.IP)
	ip = ip.Unmap()
	if e.tcp.Zone != "" && ip.Is6() {
		ip = ip.WithZone(e.tcp.Zone)
	}
	return []string{"tcp " + netip.AddrPortFrom(ip, port).String()}
}

// checkZone fails for a scoped IPv6 address whose zone is neither the name of one of this machine's
// interfaces nor a decimal index, as the epoll and uring engines take it (internal/socket): they
// failed Start (or the Dial) with it, while the std engine, through package net, which takes an
// unknown zone for none, listened on the address and dialled it. It is a bad address now on every
// engine, named before anything starts.
func checkZone(e *endpoint) error {
	if e.tcp == nil || e.tcp.Zone == "" {
		return nil
	}
	if _, err := strconv.ParseUint(e.tcp.Zone, 10, 32); err == nil {
		return nil
	}
	if _, err := net.InterfaceByName(e.tcp.Zone); err != nil {
		return fmt.Errorf("eddy: bad address %q: zone %q names no interface of this machine", e.raw, e.tcp.Zone)
	}
	return nil
}

// resolveEndpoint looks up the host name of an endpoint parseEndpointName left unresolved and returns
// the endpoint of the address it found, chosen as net.ResolveTCPAddr (and so New) chooses it: on tcp
// the first IPv4 address, or the first IPv6 one for a name in brackets ("[name]:port", an IPv6
// literal's form), else the first; an IPv4 one on tcp4, an IPv6 one on tcp6. The lookup
// goes to net.DefaultResolver, as net.Dialer's does, and ends with ctx. Its address (address) is the
// one found, so that the std engine's net.Dialer dials it rather than looking the name up again.
func resolveEndpoint(ctx context.Context, ep *endpoint) (*endpoint, error) {
	host, port, err := net.SplitHostPort(ep.address)
	if err != nil {
		return nil, err
	}
	pn, err := net.DefaultResolver.LookupPort(ctx, ep.network, port)
	if err != nil {
		return nil, err
	}
	family := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[ep.network]
	ips, err := net.DefaultResolver.LookupNetIP(ctx, family, host)
	if err != nil {
		return nil, err
	}
	// On tcp, package net's choice (addrList.forResolve) prefers IPv6 when the host was written in
	// brackets: Dial took the IPv4 address of "[name]:port" where New listened on the IPv6 one.
	want6 := strings.HasPrefix(ep.address, "[")
	var pick netip.Addr
	for _, ip := range ips {
		ip = ip.Unmap()
		if ep.network == "tcp6" && !ip.Is6() || ep.network == "tcp4" && !ip.Is4() {
			continue
		}
		if !pick.IsValid() || ep.network == "tcp" && ip.Is4() != want6 && pick.Is4() == want6 {
			pick = ip
		}
	}
	if !pick.IsValid() {
		return nil, &net.AddrError{Err: "no suitable address found", Addr: host}
	}
	ip := net.IP(pick.AsSlice())
	if pick.Is4() {
		ip = ip.To16()
	}
	r := *ep
	r.tcp = &net.TCPAddr{IP: ip, Port: pn, Zone: pick.Zone()}
	r.address = net.JoinHostPort(pick.String(), strconv.Itoa(pn))
	return &r, nil
}
