package http1_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy/http1"
)

// stallingBody gives 8 KiB, then its Reads block until it is closed (as an io.Pipe's do while its
// writer waits for something), and fail then. It counts its Close calls.
type stallingBody struct {
	given   bool
	stalled chan struct{}
	gone    chan struct{}
	once    sync.Once
	gOnce   sync.Once
	closes  atomic.Int32
}

func (b *stallingBody) Read(p []byte) (int, error) {
	if !b.given {
		b.given = true
		return copy(p, bytes.Repeat([]byte("p"), min(len(p), 8<<10))), nil
	}
	b.once.Do(func() { close(b.stalled) })
	<-b.gone
	return 0, io.ErrClosedPipe
}

func (b *stallingBody) Close() error {
	b.closes.Add(1)
	b.gOnce.Do(func() { close(b.gone) })
	return nil
}

// TestClientRetryWaitFailsOnTransportClose: Transport.Close fails with ErrTransportClosed every request in
// flight (its doc), also one whose reused connection died under its streamed body and that waits,
// to be sent again with GetBody's body, for the old body's writer, blocked in a Read that only
// the body's Close ends. It was in no list Close looks at: RoundTrip hung until that Read returned.
func TestClientRetryWaitFailsOnTransportClose(t *testing.T) {
	forEachClientEngine(t, func(t *testing.T, tr *http1.Transport) {
		s := gbServe(t, gbHead)
		body := &stallingBody{stalled: make(chan struct{}), gone: make(chan struct{})}
		s.hold = body.stalled // the connection ends once the body's read is blocked
		gbFirst(t, tr, s)
		req, _ := http.NewRequest("PUT", s.URL+"/put", body)
		req.ContentLength = 1 << 20
		req.Header.Set("Idempotency-Key", "k")
		req.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(make([]byte, 1<<20))), nil
		}
		errc := make(chan error, 1)
		go func() {
			resp, err := tr.RoundTrip(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		select {
		case <-s.firstGone:
		case <-time.After(gbTimeout):
			body.Close()
			t.Fatal("the server did not end the connection")
		}
		time.Sleep(100 * time.Millisecond) // the client sees the end meanwhile (else Close fails it in flight: the test passes, inconclusive)
		if err := tr.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-errc:
			if !errors.Is(err, http1.ErrTransportClosed) {
				t.Errorf("RoundTrip error %v, want ErrTransportClosed", err)
			}
		case <-time.After(gbTimeout):
			body.Close() // let the writer and the test go
			<-errc
			t.Fatal("RoundTrip did not return after Transport.Close: the request waiting to be sent again was not failed")
		}
		if !gbWaitFor(func() bool { return body.closes.Load() > 0 }) {
			t.Fatal("body not closed")
		}
		time.Sleep(20 * time.Millisecond)
		if n := body.closes.Load(); n != 1 {
			t.Errorf("body closed %d times, want 1", n)
		}
	})
}
