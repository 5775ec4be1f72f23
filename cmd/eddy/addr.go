package main

import (
	"fmt"
	"strings"
)

// splitAddr splits an address written as the engine takes it (tcp://host:port, tcp4://, tcp6://,
// unix:///path, or host:port for tcp) into the network and address that package net takes, for the
// commands that use package net directly: the baseline server and the load generator.
func splitAddr(s string) (network, address string, err error) {
	network, address, ok := strings.Cut(s, "://")
	if !ok {
		network, address = "tcp", s
	}
	switch network {
	case "tcp", "tcp4", "tcp6", "unix":
	default:
		return "", "", fmt.Errorf("bad address %q: unknown network %q (want tcp, tcp4, tcp6 or unix)", s, network)
	}
	if address == "" {
		return "", "", fmt.Errorf("bad address %q: empty", s)
	}
	return network, address, nil
}

// maxLoops is the most event loops an engine takes (eddy.WithLoops): the bound of every --loops.
const maxLoops = 1024
