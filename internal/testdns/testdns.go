// Package testdns keeps tests from asking a name server: fuzz targets of address parsers feed host
// names to package net, which would otherwise send them to whatever resolver the machine has (none is
// reachable on a machine whose traffic must stay on loopback); tests of name resolution get a name
// server inside the process. For tests only.
package testdns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
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

// Loopback makes net.DefaultResolver, for the rest of the test, answer every A query for any name
// with 127.0.0.1 from a name server inside the process (no packet leaves it), and fail every query
// once down is set. Names in the hosts file resolve from it as before. The replacement is global, as
// NoLookups's: call it where no other test runs at the same time.
func Loopback(tb testing.TB) (down *atomic.Bool) {
	down = new(atomic.Bool)
	saved := net.DefaultResolver
	net.DefaultResolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			if down.Load() {
				return nil, errors.New("the name server is down")
			}
			client, server := net.Pipe() // not a PacketConn: the resolver frames messages as over TCP
			go serveLoopback(server, false)
			return client, nil
		},
	}
	tb.Cleanup(func() { net.DefaultResolver = saved })
	return down
}

// DualStack is Loopback for names with both families: A queries are answered with 127.0.0.1 and AAAA
// queries with ::1, for any name outside the hosts file (this machine's hosts file gives localhost
// 127.0.0.1 alone). The replacement is global, as Loopback's.
func DualStack(tb testing.TB) {
	saved := net.DefaultResolver
	net.DefaultResolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveLoopback(server, true)
			return client, nil
		},
	}
	tb.Cleanup(func() { net.DefaultResolver = saved })
}

// serveLoopback answers the queries on c, in DNS over TCP framing: A with 127.0.0.1, AAAA with ::1 when
// six is set, any other type with no answer.
func serveLoopback(c net.Conn, six bool) {
	defer c.Close()
	for {
		var n [2]byte
		if _, err := io.ReadFull(c, n[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(n[:]))
		if _, err := io.ReadFull(c, q); err != nil || len(q) < 12 {
			return
		}
		end := 12 // the question: the name's labels, then type and class
		for end < len(q) && q[end] != 0 {
			end += 1 + int(q[end])
		}
		end += 5
		if end > len(q) {
			return
		}
		qtype := binary.BigEndian.Uint16(q[end-4:])
		r := append([]byte{}, q[:2]...)                   // the query's ID
		r = append(r, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0) // a response, RD and RA, one question
		r = append(r, q[12:end]...)
		switch {
		case qtype == 1: // A
			r[7] = 1 // one answer
			r = append(r, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1)
		case qtype == 28 && six: // AAAA
			r[7] = 1
			r = append(r, 0xc0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16)
			r = append(r, net.IPv6loopback...)
		}
		binary.BigEndian.PutUint16(n[:], uint16(len(r)))
		if _, err := c.Write(append(n[:], r...)); err != nil {
			return
		}
	}
}
