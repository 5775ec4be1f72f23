package main

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/eddyio/eddy"
)

// TestSplitAddrRefusesAnUnknownZone: splitAddr refuses an IPv6 zone that names no interface of this
// machine, as the engine's parser has since it checks zones (eddy.New); it took one, package net
// taking an unknown zone for none, so the baseline server and load took an --addr eddy refuses
// (found by FuzzSplitAddr: testdata/fuzz/FuzzSplitAddr/404d2a8bbc75d46c). A decimal index and the
// name of an interface of this machine are taken by both.
func TestSplitAddrRefusesAnUnknownZone(t *testing.T) {
	addrs := []string{"[::%A]:0", "tcp://[::1%no-such-ifc0]:80", "tcp6://[fe80::1%zz9]:1", "[::1%1]:0", "tcp6://[fe80::1%7]:80"}
	if ifcs, err := net.Interfaces(); err == nil && len(ifcs) > 0 {
		addrs = append(addrs, "tcp://[fe80::1%"+ifcs[0].Name+"]:80")
	}
	for _, s := range addrs {
		_, _, err := splitAddr(s)
		e, eerr := eddy.New(eddy.BaseHandler{}, []string{s}, eddy.WithEngine(eddy.EngineStd))
		if e != nil {
			e.Stop(context.Background())
		}
		if (err == nil) != (eerr == nil) {
			t.Errorf("splitAddr(%q) = %v; the engine's parser says %v", s, err, eerr)
		}
		unknown := strings.Contains(s, "%A]") || strings.Contains(s, "%no-such") || strings.Contains(s, "%zz9")
		if unknown && (err == nil || !strings.Contains(err.Error(), "names no interface")) {
			t.Errorf("splitAddr(%q) = %v; want a zone that names no interface refused", s, err)
		}
		if !unknown && err != nil {
			t.Errorf("splitAddr(%q) = %v; want it taken", s, err)
		}
	}
}
