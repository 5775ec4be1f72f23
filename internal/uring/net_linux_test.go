package uring

import (
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestMultishotAcceptPostsCQEPerConnection(t *testing.T) {
	r := newRing(t, 8)
	lfd, addr := listenTCP(t)
	sqe := getSQE(t, r)
	sqe.PrepMultishotAccept(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	sqe.UserData = 1
	if _, err := r.SubmitAndWait(0, 0); err != nil {
		t.Fatal(err)
	}
	clients := make([]*net.TCPConn, 3)
	for i := range clients {
		clients[i] = dial(t, addr)
	}
	for i, c := range waitCQEs(t, r, 3) {
		if c.UserData != 1 || c.Res < 0 || !c.More() {
			t.Fatalf("accept CQE %d: %+v (%v), want an fd with F_MORE", i, c, c.Err())
		}
		// The accepted socket is real: it sees the client's local address as its peer.
		peer, err := unix.Getpeername(int(c.Res))
		if err != nil {
			t.Fatal(err)
		}
		if port := peer.(*unix.SockaddrInet4).Port; !hasLocalPort(clients, port) {
			t.Errorf("accepted fd %d has peer port %d, not one of the clients", c.Res, port)
		}
		unix.Close(int(c.Res))
	}
	// Cancelling ends the multishot: -ECANCELED without F_MORE.
	sqe = getSQE(t, r)
	sqe.PrepCancel(1, 0)
	sqe.UserData = 2
	got := byUserData(t, waitCQEs(t, r, 2))
	wantRes(t, got[1], errnoRes(unix.ECANCELED))
	if got[1].More() {
		t.Fatal("cancelled accept still has F_MORE")
	}
	wantRes(t, got[2], 0)
}

func hasLocalPort(conns []*net.TCPConn, port int) bool {
	for _, c := range conns {
		if c.LocalAddr().(*net.TCPAddr).Port == port {
			return true
		}
	}
	return false
}

func TestAcceptReportsPeerAddress(t *testing.T) {
	r := newRing(t, 8)
	lfd, addr := listenTCP(t)
	sa := pinned(t, &unix.RawSockaddrAny{})
	salen := pinned(t, new(uint32))
	*salen = unix.SizeofSockaddrAny
	getSQE(t, r).PrepAccept(lfd, sa, salen, unix.SOCK_CLOEXEC)
	client := dial(t, addr)
	c := waitCQEs(t, r, 1)[0]
	if c.Res < 0 {
		t.Fatalf("accept: %v", c.Err())
	}
	defer unix.Close(int(c.Res))
	in4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
	port := int(in4.Port>>8 | in4.Port<<8&0xff00)
	if in4.Family != unix.AF_INET || port != client.LocalAddr().(*net.TCPAddr).Port {
		t.Fatalf("peer family %d port %d, want AF_INET and %v", in4.Family, port, client.LocalAddr())
	}
}

// recvInto runs the armed multishot receive until want bytes have arrived, checking each CQE, copying
// the data out and recycling each buffer; it returns the data.
func recvInto(t *testing.T, r *Ring, br *BufRing, want int) []byte {
	t.Helper()
	var got []byte
	for len(got) < want {
		c := waitCQEs(t, r, 1)[0]
		if c.Res <= 0 || !c.More() {
			t.Fatalf("recv CQE %+v (%v) after %d bytes, want data with F_MORE", c, c.Err(), len(got))
		}
		id, ok := c.Buffer()
		if !ok {
			t.Fatalf("recv CQE %+v without F_BUFFER", c)
		}
		if c.Res > int32(br.BufferSize()) {
			t.Fatalf("recv of %d bytes into a %d-byte buffer", c.Res, br.BufferSize())
		}
		got = append(got, br.Buffer(id)[:c.Res]...)
		br.Recycle(id)
	}
	return got
}

func TestRecvMultishotIntoBufRing(t *testing.T) {
	r := newRing(t, 16)
	br, err := r.NewBufRing(3, 8, 64)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	fd, client := tcpPair(t)
	sqe := getSQE(t, r)
	sqe.PrepRecvMultishot(fd, br.Group(), 0)
	sqe.UserData = 1
	// 8 buffers of 64 bytes hold 512 bytes; 10000 bytes only get through if buffers are recycled. Each
	// write stays below 512 bytes: the kernel receives a burst in one go and would run dry on more.
	const chunk = 400
	payload := make([]byte, 25*chunk)
	for i := range payload {
		payload[i] = byte(i*7 + i>>8)
	}
	for off := 0; off < len(payload); off += chunk {
		if _, err := client.Write(payload[off : off+chunk]); err != nil {
			t.Fatal(err)
		}
		got := recvInto(t, r, br, chunk)
		if !bytes.Equal(got, payload[off:off+chunk]) {
			t.Fatalf("bytes %d..%d differ", off, off+chunk)
		}
	}
	// End of file: Res 0 without F_MORE.
	client.CloseWrite()
	c := waitCQEs(t, r, 1)[0]
	if c.Res != 0 || c.More() {
		t.Fatalf("CQE after the peer's close %+v, want res 0 without F_MORE", c)
	}
}

func TestRecvMultishotENOBUFSThenRearm(t *testing.T) {
	r := newRing(t, 16)
	br, err := r.NewBufRing(5, 4, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	fd, client := tcpPair(t)
	payload := []byte("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!@#$%^&*()-=_+[]{};:,.<>/?|~0123456789")
	if _, err := client.Write(payload); err != nil { // 100 bytes; the ring holds 64
		t.Fatal(err)
	}
	arm := func() {
		sqe := getSQE(t, r)
		sqe.PrepRecvMultishot(fd, br.Group(), 0)
		sqe.UserData = 1
	}
	arm()
	var got []byte
	var held []uint16
	for {
		c := waitCQEs(t, r, 1)[0]
		if c.Res < 0 {
			if !errors.Is(c.Err(), unix.ENOBUFS) || c.More() {
				t.Fatalf("CQE %+v (%v), want ENOBUFS without F_MORE", c, c.Err())
			}
			break
		}
		id, ok := c.Buffer()
		if !ok || !c.More() {
			t.Fatalf("CQE %+v, want F_BUFFER|F_MORE", c)
		}
		got = append(got, br.Buffer(id)[:c.Res]...)
		held = append(held, id) // keep it: the ring runs dry
	}
	if len(held) != 4 || len(got) != 64 {
		t.Fatalf("ran dry after %d buffers and %d bytes, want 4 and 64", len(held), len(got))
	}
	// Give every buffer back in one batch, re-arm, and the rest arrives.
	for _, id := range held {
		br.Add(id)
	}
	br.Advance()
	arm()
	got = append(got, recvInto(t, r, br, len(payload)-len(got))...)
	if !bytes.Equal(got, payload) {
		t.Fatalf("received %q, want %q", got, payload)
	}
}

func TestSendAndRecvWithCallerBuffers(t *testing.T) {
	r := newRing(t, 8)
	fd, client := tcpPair(t)
	out := pinnedBytes(t, 4096)
	for i := range out {
		out[i] = byte(i)
	}
	sqe := getSQE(t, r)
	sqe.PrepSend(fd, out, unix.MSG_NOSIGNAL)
	sqe.UserData = 1
	wantRes(t, waitCQEs(t, r, 1)[0], 4096)
	got := make([]byte, 4096)
	if _, err := io.ReadFull(client, got); err != nil || !bytes.Equal(got, out) {
		t.Fatalf("client read %v: bytes differ or error", err)
	}

	in := pinnedBytes(t, 100)
	sqe = getSQE(t, r)
	sqe.PrepRecv(fd, in, 0)
	sqe.UserData = 2
	client.Write([]byte("pong"))
	c := waitCQEs(t, r, 1)[0]
	wantRes(t, c, 4)
	if string(in[:4]) != "pong" {
		t.Fatalf("recv got %q", in[:4])
	}
}

func TestRecvSelectPicksBuffer(t *testing.T) {
	r := newRing(t, 8)
	br, err := r.NewBufRing(9, 2, 32)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	fd, client := tcpPair(t)
	client.Write([]byte("selected"))
	getSQE(t, r).PrepRecvSelect(fd, br.Group(), 0)
	c := waitCQEs(t, r, 1)[0]
	id, ok := c.Buffer()
	if c.Res != 8 || !ok || c.More() || string(br.Buffer(id)[:8]) != "selected" {
		t.Fatalf("CQE %+v, want 8 bytes in a provided buffer, single shot", c)
	}
	br.Recycle(id)
}

func TestSendmsgGathersIovecs(t *testing.T) {
	r := newRing(t, 8)
	fd, client := tcpPair(t)
	a, b := pinnedBytes(t, 6), pinnedBytes(t, 5)
	copy(a, "hello ")
	copy(b, "world")
	iovs := pinnedIovecs(t, a, b)
	msg := pinned(t, &unix.Msghdr{Iov: &iovs[0]})
	msg.SetIovlen(len(iovs))
	getSQE(t, r).PrepSendmsg(fd, msg, unix.MSG_NOSIGNAL)
	wantRes(t, waitCQEs(t, r, 1)[0], 11)
	got := make([]byte, 11)
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "hello world" {
		t.Fatalf("client read %q, %v", got, err)
	}
}

func TestSendZCPostsResultThenNotification(t *testing.T) {
	r := newRing(t, 8)
	fd, client := tcpPair(t)
	out := pinnedBytes(t, 65536)
	for i := range out {
		out[i] = byte(i >> 3)
	}
	sqe := getSQE(t, r)
	sqe.PrepSendZC(fd, out, unix.MSG_NOSIGNAL, SendZCReportUsage)
	sqe.UserData = 1
	done := make(chan error)
	go func() {
		got := make([]byte, len(out))
		_, err := io.ReadFull(client, got)
		if err == nil && !bytes.Equal(got, out) {
			err = errors.New("bytes differ")
		}
		done <- err
	}()
	cqes := waitCQEs(t, r, 2)
	res, notif := cqes[0], cqes[1]
	if res.Notif() || !res.More() || res.Res <= 0 {
		t.Fatalf("first CQE %+v, want the send result with F_MORE", res)
	}
	if !notif.Notif() || notif.More() || notif.UserData != 1 {
		t.Fatalf("second CQE %+v, want the F_NOTIF notification", notif)
	}
	t.Logf("SEND_ZC sent %d bytes; copied instead of zero-copy: %v", res.Res, uint32(notif.Res)&NotifUsageZCCopied != 0)
	sent := int(res.Res)
	if sent < len(out) { // finish a short send the ordinary way
		getSQE(t, r).PrepSend(fd, out[sent:], unix.MSG_NOSIGNAL)
		wantRes(t, waitCQEs(t, r, 1)[0], int32(len(out)-sent))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestConnectAndShutdown(t *testing.T) {
	r := newRing(t, 8)
	lfd, addr := listenTCP(t)
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	sa := pinned(t, sockaddrInet4(addr))
	getSQE(t, r).PrepConnect(fd, sa, unix.SizeofSockaddrInet4)
	wantRes(t, waitCQEs(t, r, 1)[0], 0)
	peer, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(peer)

	getSQE(t, r).PrepShutdown(fd, unix.SHUT_WR)
	wantRes(t, waitCQEs(t, r, 1)[0], 0)
	var b [8]byte
	if n, err := unix.Read(peer, b[:]); n != 0 || err != nil {
		t.Fatalf("peer read after SHUT_WR = %d, %v; want end of file", n, err)
	}
}

func TestRecvMultishotIncrementalSharesBuffers(t *testing.T) {
	if !kernelAtLeast(6, 12) {
		t.Skip("IOU_PBUF_RING_INC needs 6.12")
	}
	r := newRing(t, 16)
	br, err := r.NewBufRing(4, 2, 64, WithIncremental())
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if !br.Incremental() {
		t.Fatal("Incremental() = false")
	}
	fd, client := tcpPair(t)
	sqe := getSQE(t, r)
	sqe.PrepRecvMultishot(fd, br.Group(), 0)
	sqe.UserData = 1
	// Three messages of 20 bytes share buffer 0 (at offsets 0, 20, 40); the fourth takes the last 4
	// bytes of it, which ends it (no F_BUF_MORE), and its remaining 16 bytes go to buffer 1.
	offs := map[uint16]int{}
	var got []byte
	var ended []uint16
	for i := 0; i < 4; i++ {
		msg := bytes.Repeat([]byte{byte('a' + i)}, 20)
		if _, err := client.Write(msg); err != nil {
			t.Fatal(err)
		}
		for n := 0; n < len(msg); {
			c := waitCQEs(t, r, 1)[0]
			id, ok := c.Buffer()
			if c.Res <= 0 || !ok || !c.More() {
				t.Fatalf("CQE %+v (%v), want data in a buffer with F_MORE", c, c.Err())
			}
			off := offs[id]
			got = append(got, br.Buffer(id)[off:off+int(c.Res)]...)
			n += int(c.Res)
			if c.BufMore() {
				offs[id] = off + int(c.Res)
			} else {
				ended = append(ended, id)
				offs[id] = 0
				br.Recycle(id)
			}
		}
	}
	want := []byte(strings.Repeat("a", 20) + strings.Repeat("b", 20) + strings.Repeat("c", 20) + strings.Repeat("d", 20))
	if !bytes.Equal(got, want) {
		t.Fatalf("received %q, want %q", got, want)
	}
	if len(ended) != 1 || ended[0] != 0 || offs[1] != 16 {
		t.Fatalf("buffers ended %v, buffer 1 at offset %d; want buffer 0 ended and buffer 1 at 16", ended, offs[1])
	}
}
