package http1

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestHandoffBatchSurvivesABlockedHandler hands the pool a batch of requests that arrived in one
// loop iteration, one of them to a handler that blocks until every other has its answer.
func TestHandoffBatchSurvivesABlockedHandler(t *testing.T) {
	const conns, blocker = 8, 3
	release := make(chan struct{})
	s := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			<-release
		}
		io.WriteString(w, r.URL.Path)
	})}
	defer s.Close()
	l := newFakeLoop()
	cs := make([]*fakeConn, conns)
	for i := range cs {
		cs[i] = &fakeConn{l: l}
		s.OnOpen(cs[i])
		path := fmt.Sprintf("/fast%d", i)
		if i == blocker {
			path = "/block"
		}
		cs[i].in = []byte("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
		s.OnData(cs[i])
	}
	answered := func(i int) bool { return bytes.HasSuffix(cs[i].out, fmt.Appendf(nil, "/fast%d", i)) }
	deadline := time.After(5 * time.Second)
	l.run() // the end of the iteration: the batch goes to the pool
	for i := range cs {
		for i != blocker && !answered(i) {
			select {
			case <-l.ready:
				l.run()
			case <-deadline:
				t.Fatalf("connection %d has no answer while /block blocks: %q", i, cs[i].out)
			}
		}
	}
	close(release)
	for !bytes.HasSuffix(cs[blocker].out, []byte("/block")) {
		select {
		case <-l.ready:
			l.run()
		case <-deadline:
			t.Fatalf("no answer to /block: %q", cs[blocker].out)
		}
	}
}
