// Package testdns keeps tests from asking a name server: fuzz targets of address parsers feed host
// names to package net, which would otherwise send them to whatever resolver the machine has (none is
// reachable on a machine whose traffic must stay on loopback). For tests only.
package testdns

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
)

// NoLookups replaces net.DefaultResolver for the rest of the test with one that never leaves the
// machine: names resolve from the hosts file only, and every query it would have sent to a name
// server fails instead. It returns the count of those queries. The replacement is global: call it
// where no other test runs at the same time (fuzz targets run after the tests).
func NoLookups(tb testing.TB) *atomic.Int64 {
	var queries atomic.Int64
	saved := net.DefaultResolver
	net.DefaultResolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			queries.Add(1)
			return nil, errors.New("no name server in this test")
		},
	}
	tb.Cleanup(func() { net.DefaultResolver = saved })
	return &queries
}
