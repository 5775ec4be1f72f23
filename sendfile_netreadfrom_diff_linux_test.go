//go:build linux

package eddy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
)

// Session 32: Conn.SendFile against package net's reference, (*net.TCPConn).ReadFrom of an
// io.SectionReader over the same file (sendfile underneath), on every engine. Each connection writes "<",
// sends one region, writes ">" and closes; the caller's *os.File is closed right after SendFile returns.
//
// Where net sends the whole region, eddy's peer must read the same bytes between the writes, the callback
// nil, and the caller's file offset (shared with a duplicate kept open) must not have moved. Where net
// sends fewer bytes than asked (the file ends first), eddy documents an error wrapping
// io.ErrUnexpectedEOF in the callback and OnClose, after the bytes the file has and without the ">"
// written behind the region. Bad regions and files that are not regular are refused by SendFile itself,
// the connection going on ("<>" and a clean close), where net reads them (a pipe, /dev/zero).

// netSendSection returns what a peer of package net reads when the server sends n bytes of f from offset
// with TCPConn.ReadFrom(io.NewSectionReader(f, offset, n)), and the ReadFrom's error.
func netSendSection(t *testing.T, f io.ReaderAt, offset, n int64) ([]byte, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	res := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			res <- err
			return
		}
		defer c.Close()
		_, err = c.(*net.TCPConn).ReadFrom(io.NewSectionReader(f, offset, n))
		res <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return got, <-res
}

// nrfCase is one region to send: from the file open returns (the test's data file when nil), or a
// region SendFile must refuse (refused reports whether its error is the expected one).
type nrfCase struct {
	name    string
	open    func() (*os.File, error)
	off, n  int64
	refused func(error) bool
	prefix  int // compare only this many bytes of the region (a procfs file changes as the process runs)
}

// nrfResult is what the server saw of one case.
type nrfResult struct {
	sendErr   error // SendFile's return
	cbErr     error // the callback's error
	cbRan     bool
	offBefore int64 // the caller's file offset before SendFile
	dup       *os.File
}

func TestSendFileAgreesWithNetReadFrom(t *testing.T) {
	dir := t.TempDir()
	data := pattern(200<<10, 120)
	path := writeFile(t, dir, "data", data)
	size := int64(len(data))
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	isUnsupported := func(err error) bool { return errors.Is(err, eddy.ErrUnsupported) }
	isErr := func(err error) bool { return err != nil }
	cases := []nrfCase{
		{name: "empty", off: 0, n: 0},
		{name: "whole", off: 0, n: size},
		{name: "inside", off: 1000, n: 70000},
		{name: "tail", off: size - 5, n: 5},
		{name: "empty at EOF", off: size, n: 0},
		{name: "empty past EOF", off: size + 100, n: 0},
		{name: "one at EOF", off: size, n: 1},
		{name: "past EOF", off: size + 100, n: 10},
		{name: "far past EOF", off: 1 << 62, n: 10}, // past the file system's largest file (ext4: 16 TiB)
		{name: "count past EOF", off: 100, n: size},
		{name: "count MaxInt64", off: 0, n: math.MaxInt64},
		{name: "negative offset", off: -1, n: 1, refused: isErr},
		{name: "negative count", off: 0, n: -1, refused: isErr},
		{name: "end overflows", off: 1, n: math.MaxInt64, refused: isErr},
		{name: "O_APPEND", open: func() (*os.File, error) { return os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0) }, off: 3, n: 4096},
		{name: "write-only", open: func() (*os.File, error) { return os.OpenFile(path, os.O_WRONLY, 0) }, n: 10,
			refused: func(err error) bool { return errors.Is(err, unix.EBADF) }},
		{name: "closed", open: func() (*os.File, error) {
			f, err := os.Open(path)
			if err == nil {
				f.Close()
			}
			return f, err
		}, n: 10, refused: func(err error) bool { return errors.Is(err, os.ErrClosed) }},
		{name: "directory", open: func() (*os.File, error) { return os.Open(dir) }, n: 10, refused: isUnsupported},
		{name: "pipe", open: func() (*os.File, error) {
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			w.Write([]byte("piped"))
			w.Close()
			return r, nil
		}, n: 5, refused: isUnsupported},
		{name: "fifo", open: func() (*os.File, error) { return os.OpenFile(fifo, os.O_RDWR, 0) }, n: 5, refused: isUnsupported},
		{name: "dev zero", open: func() (*os.File, error) { return os.Open("/dev/zero") }, n: 100, refused: isUnsupported},
		// Size 0 in stat, content on read: sendfile and splice cannot read it, the engines pread it.
		{name: "proc status exact", open: func() (*os.File, error) { return os.Open("/proc/self/status") }, n: 6},
		{name: "proc status past end", open: func() (*os.File, error) { return os.Open("/proc/self/status") }, n: 1 << 20, prefix: 6},
	}

	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		next := make(chan nrfCase, 1)
		results := make(chan *nrfResult, 1)
		cbs := make(chan error, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			tc := <-next
			r := &nrfResult{}
			open := tc.open
			if open == nil {
				open = func() (*os.File, error) { return os.Open(path) }
			}
			f, err := open()
			if err != nil {
				r.sendErr = fmt.Errorf("open: %w", err)
				results <- r
				c.Abort(nil)
				return
			}
			if tc.refused == nil {
				// The caller's offset, through a duplicate that shares it and stays open: f is closed
				// right after SendFile.
				r.offBefore, _ = f.Seek(7, io.SeekStart)
				fd, err := unix.Dup(int(f.Fd()))
				if err == nil {
					r.dup = os.NewFile(uintptr(fd), "dup")
				}
			}
			c.Write([]byte("<"))
			r.sendErr = c.SendFile(f, tc.off, tc.n, func(_ eddy.Conn, err error) { cbs <- err })
			f.Close()
			c.Write([]byte(">"))
			c.Close()
			results <- r
		}}
		s := startServer(t, kind, h)
		for _, tc := range cases {
			next <- tc
			c := s.dial(t)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, _ := io.ReadAll(c) // EOF, or a reset after an aborted region
			c.Close()
			r := <-results
			reason := h.waitClosed(t, 10*time.Second)
			if r.dup != nil {
				defer r.dup.Close()
			}
			if tc.refused != nil {
				if !tc.refused(r.sendErr) {
					t.Errorf("%s: SendFile(off %d, n %d) = %v, want it refused", tc.name, tc.off, tc.n, r.sendErr)
				}
				if string(got) != "<>" || reason != nil {
					t.Errorf("%s: peer read %q, OnClose %v; want \"<>\" and nil (the connection goes on)", tc.name, got, reason)
				}
				select {
				case err := <-cbs:
					t.Errorf("%s: the callback of a refused region ran (%v)", tc.name, err)
				default:
				}
				continue
			}
			if r.sendErr != nil {
				t.Errorf("%s: SendFile(off %d, n %d) = %v", tc.name, tc.off, tc.n, r.sendErr)
				continue
			}
			cbErr := <-cbs

			// package net's reference, on the same file.
			rf, err := os.Open(path)
			if tc.open != nil {
				rf, err = tc.open()
			}
			if err != nil {
				t.Fatal(err)
			}
			ref, refErr := netSendSection(t, rf, tc.off, tc.n)
			rf.Close()
			if refErr != nil {
				t.Errorf("%s: net's ReadFrom: %v", tc.name, refErr)
			}
			whole := int64(len(ref)) == tc.n
			body := got
			if len(body) > 0 && body[0] == '<' {
				body = body[1:]
			} else {
				t.Errorf("%s: peer read %q..., want \"<\" first", tc.name, got[:min(len(got), 16)])
			}
			if whole {
				if !bytes.HasSuffix(body, []byte(">")) {
					t.Errorf("%s: peer read %d bytes not ending in \">\"", tc.name, len(got))
				} else {
					body = body[:len(body)-1]
				}
			}
			cmp, want := body, ref
			if tc.prefix > 0 {
				cmp, want = cmp[:min(len(cmp), tc.prefix)], want[:min(len(want), tc.prefix)]
			}
			if !bytes.Equal(cmp, want) {
				t.Errorf("%s: eddy's peer read %d bytes of the region, net's %d; first difference at %d",
					tc.name, len(body), len(ref), firstDiff(cmp, want))
			}
			if whole {
				if cbErr != nil || reason != nil {
					t.Errorf("%s: callback %v, OnClose %v; want nil, nil (net sent all %d bytes)", tc.name, cbErr, reason, tc.n)
				}
			} else if !errors.Is(cbErr, io.ErrUnexpectedEOF) || !errors.Is(reason, io.ErrUnexpectedEOF) {
				t.Errorf("%s: callback %v, OnClose %v; want errors wrapping io.ErrUnexpectedEOF (net sent %d of %d bytes)",
					tc.name, cbErr, reason, len(ref), tc.n)
			}
			if r.dup != nil {
				if off, err := r.dup.Seek(0, io.SeekCurrent); err != nil || off != r.offBefore {
					t.Errorf("%s: the caller's file offset is %d (%v) after the send, want %d (SendFile neither uses nor moves it)",
						tc.name, off, err, r.offBefore)
				}
			}
			if strings.HasPrefix(tc.name, "proc") {
				t.Logf("%s: %d bytes, callback %v", tc.name, len(body), cbErr)
			}
		}
	})
}

// A region of math.MaxInt64 bytes ("send the rest of the file", as net's io.Copy would) with bytes written
// behind it: OutboundBuffered counts them, and Flushed waits for them rather than running at once with
// nil (the region ends the connection with io.ErrUnexpectedEOF, so the flush must fail). The engines
// summed the queue's lengths in int, which wrapped negative: OutboundBuffered was below zero, and
// Flushed (and an AsyncWrite's callback) reported the bytes handed to the kernel before any was sent.
func TestSendFileHugeCountKeepsTheQueueCount(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		data := pattern(64<<10, 121)
		p := writeFile(t, t.TempDir(), "f", data)
		type cbRes struct {
			tag string
			err error
		}
		cbs := make(chan cbRes, 8)
		report := make(chan []string, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			var bad []string
			f, _ := os.Open(p)
			defer f.Close()
			cb := func(tag string) func(eddy.Conn, error) {
				return func(_ eddy.Conn, err error) { cbs <- cbRes{tag, err} }
			}
			if err := c.SendFile(f, 0, math.MaxInt64, cb("region")); err != nil {
				bad = append(bad, fmt.Sprintf("SendFile(0, MaxInt64) = %v", err))
			}
			c.Write([]byte("x"))
			if n := c.OutboundBuffered(); n < len(data) {
				bad = append(bad, fmt.Sprintf("OutboundBuffered = %d behind a region of MaxInt64 bytes", n))
			}
			c.Flushed(cb("flushed"))
			report <- bad
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		awaitReport(t, report, "", "OnOpen")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, _ := io.ReadAll(c)
		if !bytes.Equal(got, data) {
			t.Errorf("peer read %d bytes, want the file's %d (and not the \"x\" behind the region)", len(got), len(data))
		}
		// The order of the two failures is not promised (the loop engines fail the waits first).
		ran := map[string]error{}
		for range 2 {
			select {
			case r := <-cbs:
				ran[r.tag] = r.err
			case <-time.After(10 * time.Second):
				t.Fatalf("callbacks that ran: %v; want both the region's and Flushed's", ran)
			}
		}
		if err := ran["region"]; !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("region's callback: %v, want io.ErrUnexpectedEOF", err)
		}
		if err := ran["flushed"]; err == nil {
			t.Errorf("Flushed's callback: nil, but the \"x\" behind the region never reached the kernel")
		}
		if reason := h.waitClosed(t, 10*time.Second); !errors.Is(reason, io.ErrUnexpectedEOF) {
			t.Errorf("OnClose %v, want io.ErrUnexpectedEOF", reason)
		}
	})
}
