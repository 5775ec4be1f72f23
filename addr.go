package eddy

import (
	"fmt"
	"net"
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
// once the engine starts (a Dial to one fails with connect's *OpError, as package net's).
func parseEndpoints(addrs []string) ([]*endpoint, error) {
	eps := make([]*endpoint, 0, len(addrs))
	for _, s := range addrs {
		e, err := parseEndpoint(s)
		if err != nil {
			return nil, err
		}
		if e.unix != nil && len(e.address) > socket.UnixPathMax(e.address) {
			return nil, fmt.Errorf("eddy: bad address %q: socket path of %d bytes, longer than the %d this system takes",
				s, len(e.address), socket.UnixPathMax(e.address))
		}
		eps = append(eps, e)
	}
	return eps, nil
}
