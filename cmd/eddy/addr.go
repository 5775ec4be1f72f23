package main

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/eddyio/eddy/internal/socket"
)

// addrForms lists the forms of address every --addr takes, for the flags' help.
const addrForms = "host:port, tcp://host:port, tcp4://host:port, tcp6://[host]:port or unix:///path"

// splitAddr splits an address written as the engine takes it (tcp://host:port, tcp4://, tcp6://,
// unix:///path, or host:port for tcp) into the network and address that package net takes, for the
// commands that use package net directly: the baseline server and the load generator. It refuses what
// the engine's parser refuses before anything starts: an unknown network, a missing or bad port, an IP
// address of the wrong family, an IPv6 zone that names no interface, an empty path or one too long for
// the system. A host name is not looked up: that is left to the run, as a failure there (exit 1) rather
// than a bad command line.
func splitAddr(s string) (network, address string, err error) {
	network, address, ok := strings.Cut(s, "://")
	if !ok {
		network, address = "tcp", s
	}
	switch network {
	case "tcp", "tcp4", "tcp6":
		host, port, err := net.SplitHostPort(address)
		if err != nil {
			return "", "", fmt.Errorf("bad address %q: %v", s, err)
		}
		if port == "" {
			return "", "", fmt.Errorf("bad address %q: missing port", s)
		}
		if _, err := net.LookupPort(network, port); err != nil {
			return "", "", fmt.Errorf("bad address %q: %v", s, err)
		}
		ip, _, _ := strings.Cut(host, "%") // an IPv6 address may carry a zone
		if host == "" || net.ParseIP(ip) != nil {
			// An IP address resolves without a lookup: this checks its family against the network's.
			a, err := net.ResolveTCPAddr(network, address)
			if err != nil {
				return "", "", fmt.Errorf("bad address %q: %v", s, err)
			}
			if !knownZone(a.Zone) {
				return "", "", fmt.Errorf("bad address %q: zone %q names no interface of this machine", s, a.Zone)
			}
		}
	case "unix":
		if address == "" {
			return "", "", fmt.Errorf("bad address %q: empty socket path", s)
		}
		// The engine refuses it before it starts; package net (the baseline server, load's dials)
		// would only fail at bind or connect, with EINVAL.
		if most := socket.UnixPathMax(address); len(address) > most {
			return "", "", fmt.Errorf("bad address %q: socket path of %d bytes, longer than the %d this system takes",
				s, len(address), most)
		}
	default:
		return "", "", fmt.Errorf("bad address %q: unknown network %q (want tcp, tcp4, tcp6 or unix)", s, network)
	}
	return network, address, nil
}

// knownZone reports whether an IPv6 zone is none, a decimal interface index or the name of one of this
// machine's interfaces: the engine's parser (eddy.New, its checkZone) refuses any other, where package
// net takes an unknown zone for none.
func knownZone(zone string) bool {
	if zone == "" {
		return true
	}
	if _, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return true
	}
	_, err := net.InterfaceByName(zone)
	return err == nil
}

// checkAddr refuses an --addr that splitAddr refuses, as a command-line error of cmd.
func checkAddr(cmd, addr string) error {
	if _, _, err := splitAddr(addr); err != nil {
		return usagef(cmd, "--addr: %v", err)
	}
	return nil
}

// maxLoops is the most event loops an engine takes (eddy.WithLoops): the bound of every --loops.
const maxLoops = 1024
