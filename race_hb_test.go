package eddy_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// hbHandler reads *sent when a request arrives (what its client wrote before sending it), sets *reply
// before it replies, and closes the connection behind the reply.
type hbHandler struct {
	eddy.BaseHandler
	sent  *int
	reply *int
	saw   chan int
}

func (h *hbHandler) OnData(c eddy.Conn) {
	if _, err := c.Next(-1); err != nil {
		return
	}
	h.saw <- *h.sent // written by the client before its request, with no other synchronisation
	*h.reply = 42    // read by the client after the reply
	c.Write([]byte("reply\n"))
	c.Close()
}

// Under -race, bytes through a socket order what the goroutines at its two ends do, as with package
// net, whose reads and writes tell the race detector so (syscall.Read and Write): a test that sets a
// variable and then sends a request, or a handler that sets one and then replies, has no race. On epoll
// and uring, whose loops read and write through raw system calls and io_uring, both were reported as
// races; the http1 tests met it when a test set a Transport field and then sent a request through a
// proxy served by eddy.
func TestSocketHappensBefore(t *testing.T) {
	if !raceEnabled {
		t.Skip("what this checks is seen by the race detector only")
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		var sent, reply int
		h := &hbHandler{sent: &sent, reply: &reply, saw: make(chan int, 1)}
		srv := startServer(t, kind, h)
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		sent = 7
		if _, err := c.Write([]byte("request\n")); err != nil {
			t.Fatal(err)
		}
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || line != "reply\n" {
			t.Fatalf("reply %q, %v", line, err)
		}
		if got := <-h.saw; got != 7 {
			t.Errorf("the handler read %d, want 7", got)
		}
		if reply != 42 {
			t.Errorf("the client read %d, want 42", reply)
		}
	})
}

// hbDialer writes its greeting, set up before, from OnOpen of a dialled connection.
type hbDialer struct {
	eddy.BaseHandler
	greeting *string
}

func (h *hbDialer) OnOpen(c eddy.Conn) {
	*h.greeting = "hello" // read by the server on package net after the bytes arrive
	c.Write([]byte("x"))
}

// The other way: a connection eddy dialled writes to a server on package net.
func TestSocketHappensBeforeDialled(t *testing.T) {
	if !raceEnabled {
		t.Skip("what this checks is seen by the race detector only")
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		var greeting string
		got := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- err.Error()
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				got <- err.Error()
				return
			}
			got <- greeting
		}()
		e := startEngine(t, kind, &hbDialer{greeting: &greeting}, nil)
		defer e.Stop(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := e.Dial(ctx, "tcp://"+ln.Addr().String()).Await(ctx); err != nil {
			t.Fatal(err)
		}
		if g := <-got; g != "hello" {
			t.Errorf("the server read %q, want hello", g)
		}
	})
}

// hbFileHandler replies with a file (SendFile, nothing written before it), having set reply first.
type hbFileHandler struct {
	eddy.BaseHandler
	f     *os.File
	reply *int
}

func (h *hbFileHandler) OnData(c eddy.Conn) {
	c.Discard(-1)
	*h.reply = 42 // read by the client after the file's bytes
	c.SendFile(h.f, 0, 6, nil)
	c.Close()
}

// A reply made of a file alone orders as one written: package net's sendfile tells the race detector
// as its writes do (syscall.Sendfile), and so do the engines' sendfile and splices.
func TestSocketHappensBeforeSendFile(t *testing.T) {
	if !raceEnabled {
		t.Skip("what this checks is seen by the race detector only")
	}
	name := filepath.Join(t.TempDir(), "reply")
	if err := os.WriteFile(name, []byte("reply\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var reply int
		srv := startServer(t, kind, &hbFileHandler{f: f, reply: &reply})
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("request\n")); err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(c); err != nil || string(b) != "reply\n" {
			t.Fatalf("reply %q, %v", b, err)
		}
		if reply != 42 {
			t.Errorf("the client read %d, want 42", reply)
		}
	})
}
