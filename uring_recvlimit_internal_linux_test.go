package eddy

import (
	"context"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/uring"
)

// withRecvLimit makes the uring engines started by the test limit each multishot recv where the kernel
// can (on, the default) or never (off: kernels before 6.17).
func withRecvLimit(t testing.TB, on bool) {
	old := urSizes
	urSizes.recvLimit = on
	t.Cleanup(func() { urSizes = old })
}

// Where the kernel has the multishot recv limit (6.17), each recv of a stream ends after a read's worth
// and is armed again, and the stream goes through intact; with the limit off, as on older kernels, the
// engine reads as before. Both kinds of buffer ring.
func TestUringRecvLimitEndsEachRecvAfterARead(t *testing.T) {
	requireUring(t)
	for _, on := range []bool{true, false} {
		t.Run(map[bool]string{true: "limit", false: "nolimit"}[on], func(t *testing.T) {
			withRecvLimit(t, on)
			forEachBufRing(t, urSQEntries, urCQEntries, 0, func(t *testing.T, incremental bool) {
				const size = 4 << 20
				e, addr := startUring(t, plainEcho{})
				echoConcurrently(t, addr, 4, size)
				if err := e.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
				l := e.impl.(*uringEngine).loops[0]
				t.Logf("limit %d; loop counters: %+v", l.recvLimit, l.stats)
				switch {
				case !on:
					if l.recvLimit != 0 {
						t.Errorf("recvLimit = %d with the limit off", l.recvLimit)
					}
				case !uring.RecvLimitSupported():
					if l.recvLimit != 0 {
						t.Errorf("recvLimit = %d on a kernel without the limit", l.recvLimit)
					}
				case l.recvLimit != DefaultReadBufferSize:
					t.Errorf("recvLimit = %d, want the read buffer's %d", l.recvLimit, DefaultReadBufferSize)
				case l.stats.recvRearm < 4*size/DefaultReadBufferSize/2:
					// Each recv ends after 64 KiB or a little more: at least half as many ends as reads.
					t.Errorf("%d recvs ended at the limit for %d bytes received", l.stats.recvRearm, 4*size)
				}
			})
		})
	}
}

// BenchmarkUringStreamIn measures a one-way stream into a handler that discards it, 1 MiB per op, with
// and without the recv limit: the limit ends each multishot recv after 64 KiB, and re-arming it costs
// an SQE and a recv issued anew.
func BenchmarkUringStreamIn(b *testing.B) {
	if err := uring.Available(); err != nil {
		b.Skip(err)
	}
	for _, on := range []bool{true, false} {
		b.Run(map[bool]string{true: "limit", false: "nolimit"}[on], func(b *testing.B) {
			withRecvLimit(b, on)
			h := &discardCount{done: make(chan struct{})}
			e, err := New(h, []string{"tcp://127.0.0.1:0"}, WithEngine(EngineUring), WithLoops(1))
			if err != nil {
				b.Fatal(err)
			}
			if err := e.Start(); err != nil {
				b.Fatal(err)
			}
			defer e.Stop(context.Background())
			c, err := net.Dial("tcp", e.Addrs()[0].String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			buf := make([]byte, 1<<20)
			h.want = int64(b.N) << 20
			b.SetBytes(1 << 20)
			b.ReportAllocs()
			cpu0 := processCPU(b)
			b.ResetTimer()
			for range b.N {
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-h.done:
			case <-time.After(30 * time.Second):
				b.Fatal("the handler did not get every byte")
			}
			b.StopTimer()
			// The process's CPU time (client and server) per MiB: steadier than the wall clock on a
			// shared machine.
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/MiB")
		})
	}
}

// processCPU returns the CPU time the process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// discardCount discards its input and closes done once want bytes have come.
type discardCount struct {
	BaseHandler
	got, want int64
	done      chan struct{}
}

func (h *discardCount) OnData(c Conn) {
	n, _ := c.Discard(-1)
	h.got += int64(n)
	if h.got >= h.want && h.want > 0 {
		close(h.done)
		h.want = 0
	}
}
