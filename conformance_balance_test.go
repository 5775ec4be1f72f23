package eddy_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// openedOn is a handler that reports each connection opened, with the index of its loop.
type openedOn struct {
	*counter
	ch chan eddy.Conn
}

func (h *openedOn) OnData(c eddy.Conn) { c.Discard(-1) }

func (h *openedOn) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	h.ch <- c
}

// loopConns returns every loop's Loop.Conns.
func loopConns(e *eddy.Engine) []int {
	var n []int
	for _, l := range e.Loops() {
		n = append(n, l.Conns())
	}
	return n
}

func waitConns(t *testing.T, e *eddy.Engine, want ...int) {
	t.Helper()
	waitFor(t, func() bool { return equalInts(loopConns(e), want) }, fmt.Sprint("Loop.Conns ", want))
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A single acceptor with BalanceLeastConnections gives each connection to the loop serving the fewest:
// after the connections of one loop close, the next ones go there, where round-robin would alternate.
func TestBalanceSingleAcceptor(t *testing.T) {
	for _, b := range []eddy.Balance{eddy.BalanceRoundRobin, eddy.BalanceLeastConnections} {
		t.Run(b.String(), func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
				h := &openedOn{counter: newCounter(), ch: make(chan eddy.Conn, 16)}
				s := startServer(t, kind, h, eddy.WithLoops(2), eddy.WithReusePort(false), eddy.WithBalance(b))
				open := func() (net.Conn, int) {
					t.Helper()
					c := s.dial(t)
					select {
					case sc := <-h.ch:
						return c, sc.Loop().Index()
					case <-time.After(10 * time.Second):
						t.Fatal("OnOpen did not run")
					}
					return nil, 0
				}
				var on [2][]net.Conn
				for i := 0; i < 4; i++ {
					c, idx := open()
					defer c.Close()
					on[idx] = append(on[idx], c)
				}
				if len(on[0]) != 2 || len(on[1]) != 2 {
					t.Fatalf("4 connections: %d on loop 0, %d on loop 1; want 2 and 2", len(on[0]), len(on[1]))
				}
				waitConns(t, s.e, 2, 2)
				for _, c := range on[1] {
					c.Close()
				}
				waitConns(t, s.e, 2, 0)
				var got []int
				for i := 0; i < 2; i++ {
					c, idx := open()
					defer c.Close()
					got = append(got, idx)
				}
				want := []int{1, 1}
				if b == eddy.BalanceRoundRobin {
					want = []int{0, 1} // the turns go on where they were
				}
				if !equalInts(got, want) {
					t.Fatalf("after loop 1's connections closed, the next two went to loops %v, want %v", got, want)
				}
			})
		})
	}
}

// sinkListener is a package net listener on loopback, closed at the end of the test, whose
// connections read everything and close once their peer does (at once, so that it need not linger).
func sinkListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(io.Discard, c) }()
		}
	}()
	return ln
}

// Dial places connections by the engine's Balance too.
func TestBalanceDial(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln := sinkListener(t)
		h := &openedOn{counter: newCounter(), ch: make(chan eddy.Conn, 16)}
		e := startEngine(t, kind, h, nil, eddy.WithLoops(2), eddy.WithBalance(eddy.BalanceLeastConnections))
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e.Stop(ctx)
		}()
		dial := func() eddy.Conn {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := e.Dial(ctx, "tcp://"+ln.Addr().String()).Await(ctx)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			<-h.ch
			return c
		}
		a, b := dial(), dial()
		if a.Loop().Index() != 0 || b.Loop().Index() != 1 {
			t.Fatalf("two dials went to loops %d and %d, want 0 and 1", a.Loop().Index(), b.Loop().Index())
		}
		a.Close()
		waitConns(t, e, 0, 1)
		c, d := dial(), dial() // 0 has none, then both have one: the first on a tie
		if c.Loop().Index() != 0 || d.Loop().Index() != 0 {
			t.Fatalf("after loop 0's connection closed, two dials went to loops %d and %d, want 0 and 0", c.Loop().Index(), d.Loop().Index())
		}
		waitConns(t, e, 2, 1)
	})
}

func TestBalanceOption(t *testing.T) {
	for _, b := range []eddy.Balance{eddy.BalanceRoundRobin, eddy.BalanceLeastConnections} {
		got, err := eddy.ParseBalance(b.String())
		if err != nil || got != b {
			t.Errorf("ParseBalance(%q) = %v, %v; want %v", b.String(), got, err, b)
		}
	}
	if _, err := eddy.ParseBalance("random"); err == nil || !strings.Contains(err.Error(), `"random"`) {
		t.Errorf("ParseBalance(random) error = %v, want one naming it", err)
	}
	_, err := eddy.New(eddy.BaseHandler{}, loopback, eddy.WithBalance(eddy.Balance(7)))
	if err == nil || !strings.Contains(err.Error(), "Balance(7)") {
		t.Errorf("New with WithBalance(7) error = %v, want one naming Balance(7)", err)
	}
}
