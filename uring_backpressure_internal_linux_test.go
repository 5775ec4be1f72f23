package eddy

import (
	"bytes"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// review3Amp writes every input byte three times: the output outruns the input, so back-pressure pauses
// and resumes reading all the time.
type review3Amp struct{ BaseHandler }

func (review3Amp) OnData(c Conn) {
	b, _ := c.Next(-1)
	hdr := []byte{byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}
	c.Write(hdr)
	c.Write(b)
	c.Writev([][]byte{b, b})
}

func review3AmpClients(t *testing.T, addr string, conns, size int, slow bool) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		rc.Control(func(fd uintptr) { // a small window: the server's output backs up
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<10)
		})
		return nil
	}}
	eachConn(t, d, addr, conns, 20*time.Second, func(i int, c net.Conn) error {
		r := rand.New(rand.NewPCG(uint64(i), 9))
		msg := randomBytes(r, size)
		go writePieces(c, msg, rand.New(rand.NewPCG(uint64(i), 10)), 8<<10)
		// Each OnData wrote a 4-byte length k and then three copies of the next k bytes of msg.
		var got []byte
		buf := make([]byte, 4<<10)
		rest := msg
		for len(rest) > 0 {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			for len(got) >= 4 {
				k := int(got[0])<<24 | int(got[1])<<16 | int(got[2])<<8 | int(got[3])
				if len(got) < 4+3*k {
					break
				}
				if k == 0 || k > len(rest) {
					return io.ErrUnexpectedEOF
				}
				for j := 0; j < 3; j++ {
					if !bytes.Equal(got[4+j*k:4+(j+1)*k], rest[:k]) {
						return io.ErrUnexpectedEOF
					}
				}
				got, rest = got[4+3*k:], rest[k:]
			}
			if err != nil {
				if len(rest) > 0 {
					return err
				}
				return nil
			}
			if slow && r.IntN(2) == 0 {
				time.Sleep(200 * time.Microsecond)
			}
		}
		if len(rest) != 0 {
			return io.ErrShortBuffer
		}
		return nil
	})
}

// Back-pressure on tiny rings: 16 connections whose replies are three times their input, low water
// marks, an SQ of 8, a CQ of 16 and 8 buffers of 4 KiB: the recv cancels of pause() meet ENOBUFS
// endings, CQ overflow endings and full-SQ submits. Every byte must come back, in order, and no
// connection may stall.
func TestUringBackPressureOnTinyRings(t *testing.T) {
	requireUring(t)
	forEachBufRing(t, 8, 16, 8, func(t *testing.T, _ bool) {
		e, addr := startUring(t, review3Amp{}, WithReadBufferSize(4096), WithWriteBufferWaterMarks(2<<10, 8<<10))
		l := e.impl.(*uringEngine).loops[0]
		stop, sampled := make(chan struct{}), make(chan int, 1)
		go func() { // how often a connection was found paused (pause and resume are what this exercises)
			paused := 0
			for {
				select {
				case <-stop:
					sampled <- paused
					return
				case <-time.After(200 * time.Microsecond):
				}
				done := make(chan struct{})
				if l.submit(task{fn: func(*task) {
					for _, c := range l.conns {
						if c != nil && c.readPaused != 0 {
							paused++
						}
					}
					close(done)
				}}) == nil {
					<-done
				}
			}
		}()
		stopSampling := sync.OnceFunc(func() { close(stop) })
		defer stopSampling()
		review3AmpClients(t, addr, 16, 128<<10, true)
		stopSampling()
		paused := <-sampled
		var st urStats
		onLoop(t, l, func() { st = l.stats })
		t.Logf("paused connections seen %d times; counters %+v", paused, st)
		// (The sampling is coarse: a run that never catches a pause is not a failure.)
	})
}
