package eddy

import (
	"bytes"
	"net"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketPair returns the descriptors of both ends of a loopback TCP connection, non-blocking, with
// TCP_NODELAY on the first; they are closed when the test ends.
func socketPair(tb testing.TB) (a, b int) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	c2, err := ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	fd := func(c net.Conn) int {
		defer c.Close()
		f, err := c.(*net.TCPConn).File() // a duplicate, in blocking mode
		if err != nil {
			tb.Fatal(err)
		}
		defer f.Close()
		d, err := unix.Dup(int(f.Fd()))
		if err != nil {
			tb.Fatal(err)
		}
		unix.SetNonblock(d, true)
		tb.Cleanup(func() { unix.Close(d) })
		return d
	}
	a, b = fd(c1), fd(c2)
	unix.SetsockoptInt(a, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	return a, b
}

func TestRawSocketCalls(t *testing.T) {
	a, b := socketPair(t)
	iov := make([]unix.Iovec, maxIovecs)
	if n, err := writev(a, [][]byte{[]byte("one "), []byte("two "), []byte("three")}, iov); n != 13 || err != nil {
		t.Fatalf("writev = %d, %v; want 13, nil", n, err)
	}
	if n, err := rawWrite(a, []byte(", four")); n != 6 || err != nil {
		t.Fatalf("rawWrite = %d, %v; want 6, nil", n, err)
	}
	var got []byte
	buf := make([]byte, 64)
	for len(got) < 19 {
		n, err := rawRead(b, buf)
		if err == unix.EAGAIN {
			continue
		}
		if err != nil || n <= 0 {
			t.Fatalf("rawRead = %d, %v", n, err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, []byte("one two three, four")) {
		t.Fatalf("read %q", got)
	}
	if n, err := rawRead(b, buf); n != -1 || err != unix.EAGAIN {
		t.Fatalf("rawRead of an empty socket = %d, %v; want -1, EAGAIN", n, err)
	}
	// A write to a connection the peer reset fails with EPIPE or ECONNRESET, and raises no SIGPIPE
	// (MSG_NOSIGNAL); the test process would not notice one, but strace would.
	unix.SetsockoptLinger(b, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
	unix.Close(b)
	for i := 0; i < 100; i++ {
		if _, err := rawWrite(a, []byte("x")); err != nil {
			if err != unix.EPIPE && err != unix.ECONNRESET {
				t.Fatalf("rawWrite after the peer's reset: %v, want EPIPE or ECONNRESET", err)
			}
			return
		}
	}
	t.Fatal("rawWrite kept succeeding after the peer's reset")
}

// BenchmarkSocketCalls compares a 64-byte write and read on a loopback TCP connection through
// read/write, which pass through the VFS, and through the recv/send calls the epoll loop uses.
//
//	go test -run=NONE -bench=SocketCalls -count=5 .
func BenchmarkSocketCalls(b *testing.B) {
	msg := make([]byte, 64)
	buf := make([]byte, 64<<10)
	rw := func(b *testing.B, write, read func(fd int, p []byte) (int, error)) {
		x, y := socketPair(b)
		b.ReportAllocs()
		for b.Loop() {
			if n, err := write(x, msg); n != len(msg) || err != nil {
				b.Fatalf("write = %d, %v", n, err)
			}
			if n, err := read(y, buf); n != len(msg) || err != nil {
				b.Fatalf("read = %d, %v", n, err) // loopback delivers within the write
			}
		}
	}
	b.Run("read-write", func(b *testing.B) { rw(b, vfsWrite, vfsRead) })
	b.Run("recv-send", func(b *testing.B) { rw(b, rawWrite, rawRead) })
}

func vfsRead(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

func vfsWrite(fd int, p []byte) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}
