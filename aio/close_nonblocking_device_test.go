package aio_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy/aio"
)

// TestIOCloseWaitsForAReadAtOfANonblockingDevice: IO.Close, once it returns, leaves no operation using
// its buffer. On io_uring the ReadAt of a character device in non-blocking mode is a pread(2) on the
// caller's goroutine (File.nowaitAt), which the backend did not count: its close did not wait for it,
// and an IO.Close that found the file already closing (a File.Close of its own, or a second IO.Close)
// returned while the pread still wrote the buffer. The backend now counts those and waits for them.
func TestIOCloseWaitsForAReadAtOfANonblockingDevice(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		osf, err := os.OpenFile("/dev/zero", os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Skipf("no /dev/zero: %v", err)
		}
		a, err := aio.New(aio.WithBackend(be))
		if err != nil {
			t.Fatal(err)
		}
		f, err := a.NewFile(osf)
		if err != nil {
			t.Fatal(err)
		}
		const size = 256 << 20
		const sentinel = 0xA5
		for attempt := 0; attempt < 3; attempt++ {
			buf := make([]byte, size) // fresh pages: the read takes a while
			started := make(chan struct{})
			readDone := make(chan struct{})
			go func() {
				close(started)
				<-f.ReadAt(context.Background(), buf, 0).Done() // on io_uring, ReadAt itself reads
				close(readDone)
			}()
			<-started
			time.Sleep(10 * time.Millisecond) // the read is under way
			select {
			case <-readDone:
				t.Logf("attempt %d: the read ended too soon", attempt)
				continue
			default:
			}
			go f.Close() // waits for the read
			time.Sleep(5 * time.Millisecond)
			within(t, "IO.Close", func() { a.Close() })
			buf[size-1] = sentinel // the operation must be done with buf
			<-readDone
			if buf[size-1] != sentinel {
				t.Fatal("the ReadAt wrote its buffer after IO.Close returned")
			}
			return
		}
		a.Close()
		t.Skip("no read lasted long enough")
	})
}
