package uring

import (
	"fmt"
	"io"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// BenchmarkSendLoopback compares SEND with SEND_ZC for large messages on a loopback TCP connection,
// the question being whether the uring engine should use SEND_ZC for large writes. One message is in
// flight at a time, as the engine keeps one send in flight per connection; a SEND_ZC buffer may be
// reused only after its notification CQE, so each SEND_ZC waits for both of its CQEs. A goroutine
// drains the peer with 1 MiB reads. Reported besides ns/op and MB/s: cpu-ns/op, the process's user+system
// CPU time per message (sender and reader), and for SEND_ZC copied/op, the fraction of sends the kernel
// reported as copied rather than sent from the pages (SendZCReportUsage). On loopback it is 1: the data
// is copied anyway, and SEND_ZC adds the notification CQE and the page pinning.
//
//	go test -run '^$' -bench SendLoopback -benchtime 2s -count 3 ./internal/uring/
func BenchmarkSendLoopback(b *testing.B) {
	for _, size := range []int{64 << 10, 256 << 10, 1 << 20} {
		for _, zc := range []bool{false, true} {
			name := map[bool]string{false: "send", true: "send_zc"}[zc]
			b.Run(fmt.Sprintf("%s/%dKiB", name, size>>10), func(b *testing.B) { benchSend(b, size, zc) })
		}
	}
}

func benchSend(b *testing.B, size int, zc bool) {
	r := newRing(b, 8)
	if zc {
		if ops, err := r.Probe(); err != nil || !ops.Has(OpSendZC) {
			b.Skipf("SEND_ZC is not supported (%v)", err)
		}
	}
	fd, client := tcpPair(b)
	client.SetDeadline(time.Time{})
	for _, opt := range []int{unix.SO_SNDBUF, unix.SO_RCVBUF} {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, opt, 4<<20)
	}
	drained := make(chan error, 1)
	go func() {
		_, err := io.CopyBuffer(io.Discard, client, make([]byte, 1<<20))
		drained <- err
	}()
	msg := pinnedBytes(b, size)
	for i := range msg {
		msg[i] = byte(i)
	}
	var cqes [4]CQE
	copied := 0
	cpu0 := cpuTime()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for sent := 0; sent < size; {
			sqe := r.GetSQE()
			if zc {
				sqe.PrepSendZC(fd, msg[sent:], unix.MSG_NOSIGNAL, SendZCReportUsage)
			} else {
				sqe.PrepSend(fd, msg[sent:], unix.MSG_NOSIGNAL)
			}
			want := 1 // SEND_ZC: the result, then the notification once the pages are released
			if zc {
				want = 2
			}
			for got := 0; got < want; {
				if _, err := r.SubmitAndWait(1, -1); err != nil {
					b.Fatal(err)
				}
				n := r.Reap(cqes[:])
				for _, c := range cqes[:n] {
					switch {
					case c.Notif():
						if uint32(c.Res)&NotifUsageZCCopied != 0 {
							copied++
						}
					case c.Res < 0:
						b.Fatalf("send: %v", c.Err())
					default:
						sent += int(c.Res)
						if zc && !c.More() {
							want = 1 // no notification follows a send that failed to take the pages
						}
					}
				}
				got += n
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	if zc {
		b.ReportMetric(float64(copied)/float64(b.N), "copied/op")
	}
	unix.Shutdown(fd, unix.SHUT_WR)
	if err := <-drained; err != nil {
		b.Fatal(err)
	}
}

// cpuTime returns the user+system CPU time of the process so far, in nanoseconds.
func cpuTime() int64 {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
