package eddy_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A message that arrives in two pieces is kept by the engine between the two OnData calls; the second
// takes it whole with Next and answers a header and then the message. doc.go's echo writes what Next
// returned, so the slice is good for the rest of the callback (conn.go: "valid only until the callback
// returns"); a Write in between must not overwrite it. (On epoll a Write to an empty queue is staged and
// takes no pooled chunk, so the second case queues the writes behind an empty SendFile region.)
func TestNextSliceSurvivesAWriteInTheSameCallback(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, viaFile := range []bool{false, true} {
			name := "Write"
			if viaFile {
				name = "Write behind an empty SendFile region"
			}
			t.Run(name, func(t *testing.T) { testNextSliceAfterWrite(t, kind, viaFile) })
		}
	})
}

func testNextSliceAfterWrite(t *testing.T, kind eddy.EngineKind, viaFile bool) {
	const size = 100
	h := &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
		if c.Buffered() < size {
			return // leave the first piece buffered
		}
		b, _ := c.Next(size)
		if viaFile {
			c.SendFile(nil, 0, 0, nil) // an empty region: what is written next queues behind it
		}
		c.Write([]byte("HDR:"))
		c.Write(b)
	}}
	s := startServer(t, kind, h, eddy.WithLoops(1))
	c := s.dial(t)
	msg := pattern(size, 5)
	for round := 0; round < 20; round++ {
		c.Write(msg[:size/2])
		time.Sleep(5 * time.Millisecond) // the first piece is read, offered, and kept
		c.Write(msg[size/2:])
		got := make([]byte, 4+size)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if want := append([]byte("HDR:"), msg...); !bytes.Equal(got, want) {
			t.Fatalf("round %d: got %q..., want %q...", round, got[:12], want[:12])
		}
	}
}
