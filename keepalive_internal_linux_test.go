package eddy

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// r2KeepIdle reports the SO_KEEPALIVE and TCP_KEEPIDLE of a connection's socket.
type r2KeepIdle struct {
	BaseHandler
	got chan [2]int
}

func (h *r2KeepIdle) OnOpen(c Conn) {
	var fd int
	switch c := c.(type) {
	case *epConn:
		fd = int(c.fd)
	case *urConn:
		fd = int(c.fd)
	case *stdConn:
		rc, _ := c.nc.(syscall.Conn).SyscallConn()
		rc.Control(func(s uintptr) { fd = int(s) })
	}
	on, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
	idle, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
	h.got <- [2]int{on, idle}
}

// WithTCPKeepAlive "enables TCP keep-alive probes with the given idle period"; options are checked by New, a
// bad value being an error that names it. A period the kernel cannot take (TCP_KEEPIDLE is at most 32767 s)
// must then either be refused by New or be applied: not accepted and silently replaced by the system's
// default (7200 s).
func TestKeepAliveBeyondKernelLimit(t *testing.T) {
	for _, kind := range []EngineKind{EngineEpoll, EngineUring, EngineStd} {
		t.Run(string(kind), func(t *testing.T) {
			const d = 10 * time.Hour
			h := &r2KeepIdle{got: make(chan [2]int, 1)}
			e, err := New(h, []string{"tcp://127.0.0.1:0"}, WithEngine(kind), WithLoops(1), WithTCPKeepAlive(d))
			if err != nil {
				return // refused, naming the value: fine
			}
			if err := e.Start(); err != nil {
				t.Fatal(err)
			}
			defer e.Stop(context.Background())
			c, err := net.Dial("tcp", e.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			select {
			case got := <-h.got:
				if got[0] != 1 || got[1] != int(d/time.Second) {
					t.Errorf("New accepted WithTCPKeepAlive(%v), but the socket has SO_KEEPALIVE=%d TCP_KEEPIDLE=%ds", d, got[0], got[1])
				}
			case <-time.After(5 * time.Second):
				t.Fatal("OnOpen did not run")
			}
		})
	}
}
