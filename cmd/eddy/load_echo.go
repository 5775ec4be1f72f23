package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"
)

// runEchoLoad is the echo mode: every connection sends a message, waits for it to come back whole and
// unchanged, and sends the next, for cfg.duration. With cfg.hold it runs the idle variant instead
// (runHoldLoad). Connections are plain package net connections, one goroutine each.
func runEchoLoad(ctx context.Context, cfg loadConfig, log io.Writer) (*loadReport, error) {
	if cfg.hold > 0 {
		return runHoldLoad(ctx, cfg, log)
	}
	var (
		hist histogram
		errs errorCount
	)
	fmt.Fprintf(log, "eddy load: opening %d connections to %s\n", cfg.conns, cfg.addr)
	conns := dialAll(ctx, cfg, &errs, nil)
	defer closeAll(conns)
	if len(conns) == 0 {
		return nil, fmt.Errorf("no connection could be opened to %s; first error: %s", cfg.addr, errs.first)
	}

	// The window starts once every connection is open. Its end is a deadline on every connection, so a
	// round trip still in flight then is cut short (and not counted) instead of holding the run; a
	// signal moves the deadline to now.
	start := time.Now()
	var end time.Time
	if cfg.duration > 0 {
		end = start.Add(cfg.duration)
		for _, c := range conns {
			c.SetDeadline(end)
		}
	}
	stop := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			c.SetDeadline(time.Now())
		}
	})
	defer stop()
	over := func() bool { return ctx.Err() != nil || !end.IsZero() && !time.Now().Before(end) }

	if cfg.duration > 0 {
		fmt.Fprintf(log, "eddy load: running %d connections for %v\n", len(conns), cfg.duration)
	} else {
		fmt.Fprintf(log, "eddy load: running %d connections until interrupted\n", len(conns))
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pingPong(i, c, cfg.size, &hist, &errs, over)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if !end.IsZero() {
		elapsed = min(elapsed, cfg.duration)
	}

	r := &loadReport{
		Mode: "echo", Addr: cfg.addr, Conns: cfg.conns, Open: len(conns), Size: cfg.size,
		Seconds:    elapsed.Seconds(),
		RoundTrips: hist.Count(),
		Bytes:      hist.Count() * uint64(cfg.size),
		Latency:    summarize(&hist),
	}
	if elapsed > 0 {
		r.RoundTripsPerSec = float64(r.RoundTrips) / elapsed.Seconds()
	}
	errs.fill(r)
	return r, nil
}

// pingPong runs round trips on connection i until over reports the end of the window, recording the
// latency of each verified reply. An error other than the window's deadline ends the connection's run
// and is counted.
func pingPong(i int, c net.Conn, size int, hist *histogram, errs *errorCount, over func() bool) {
	m := newMessage(uint64(i), size)
	for round := uint64(0); ; round++ {
		m.stamp(round)
		t0 := time.Now()
		if err := m.roundTrip(c); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && over() {
				return
			}
			errs.add(fmt.Errorf("connection %d, round %d: %w", i, round, err), false)
			return
		}
		d := time.Since(t0)
		if err := m.verify(); err != nil {
			errs.add(fmt.Errorf("connection %d, round %d: %w", i, round, err), true)
			return // the stream is out of step: later replies would not match either
		}
		hist.Record(d)
	}
}

// message is the payload of one connection: random bytes chosen per connection, with the round number
// stamped over the first (up to) 8 of them, so that a reply from another connection or an earlier round
// does not verify.
type message struct {
	sent []byte
	got  []byte
}

// newMessage returns the message of the connection seeded with seed.
func newMessage(seed uint64, size int) *message {
	m := &message{sent: make([]byte, size), got: make([]byte, size)}
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	for i := range m.sent {
		m.sent[i] = byte(r.Uint32())
	}
	return m
}

// stamp writes round into the message.
func (m *message) stamp(round uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], round)
	copy(m.sent, b[:])
}

// roundTrip sends the message on c and reads as many bytes back.
func (m *message) roundTrip(c net.Conn) error {
	if _, err := c.Write(m.sent); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, m.got); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("server closed the connection: %w", err)
		}
		return err
	}
	return nil
}

// errMismatch is a reply whose bytes differ from what was sent.
var errMismatch = errors.New("reply differs from the message sent")

// verify reports whether the reply equals the message, naming the first byte that differs.
func (m *message) verify() error {
	if bytes.Equal(m.sent, m.got) {
		return nil
	}
	for i := range m.sent {
		if m.sent[i] != m.got[i] {
			return fmt.Errorf("%w at byte %d: sent %#02x, got %#02x", errMismatch, i, m.sent[i], m.got[i])
		}
	}
	return errMismatch
}
