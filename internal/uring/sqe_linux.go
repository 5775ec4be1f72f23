package uring

import (
	"math"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SQE mirrors struct io_uring_sqe (64 bytes), one slot of the mapped submission queue array. Get one
// with Ring.GetSQE, fill it with a Prep method, then set UserData (a token chosen by the caller, such
// as a (slot, generation) handle, never a Go pointer) and optionally Flags (SQEIOLink, SQEAsync, ...).
// The fields are exported for the rare operation without a Prep method; the names follow the kernel's,
// and the comments list the union members each field stands for.
//
// Memory rule for every Prep method that takes a slice or a pointer: the kernel reads or writes that
// memory after the method returns, at a time only the CQE tells. The caller keeps it alive and unmoved
// until the operation's last CQE has been reaped, also when it is cancelled (see the package comment).
type SQE struct {
	Opcode      Op
	Flags       uint8  // IOSQE_* (SQEIOLink, ...)
	IoPrio      uint16 // ioprio; accept, recv and send flags (RecvSendPollFirst, SendZCReportUsage, ...)
	Fd          int32
	Off         uint64 // off, addr2
	Addr        uint64 // addr, splice_off_in
	Len         uint32
	OpFlags     uint32 // rw_flags, msg_flags, timeout_flags, accept_flags, cancel_flags, poll32_events, ...
	UserData    uint64
	BufIndex    uint16 // buf_index, buf_group
	Personality uint16
	FileIndex   uint32 // splice_fd_in, file_index, addr_len
	Addr3       uint64
	_           uint64
}

// addrOf returns the address of b's first byte for the kernel (0 for an empty slice).
func addrOf(b []byte) uint64 { return uint64(uintptr(unsafe.Pointer(unsafe.SliceData(b)))) }

// lenOf returns a length as the kernel's u32, clamped (the kernel caps transfers near 2 GiB anyway).
func lenOf(n int) uint32 { return uint32(min(uint64(n), math.MaxUint32)) }

func (s *SQE) prepRW(op Op, fd int, addr uint64, n uint32, off uint64) {
	s.Opcode = op
	s.Fd = int32(fd)
	s.Addr = addr
	s.Len = n
	s.Off = off
}

// PrepNop prepares a no-op, which completes with Res 0: a cheap way to wake the loop or test the ring.
func (s *SQE) PrepNop() { s.Opcode = OpNop }

// PrepRead prepares read(2) of fd into buf at offset off (CurrentPos: use and advance the file
// position). buf must stay alive and unmoved until the CQE.
func (s *SQE) PrepRead(fd int, buf []byte, off uint64) {
	s.prepRW(OpRead, fd, addrOf(buf), lenOf(len(buf)), off)
}

// PrepWrite prepares write(2) of buf to fd at offset off (CurrentPos: use and advance the file
// position). buf must stay alive and unmoved until the CQE.
func (s *SQE) PrepWrite(fd int, buf []byte, off uint64) {
	s.prepRW(OpWrite, fd, addrOf(buf), lenOf(len(buf)), off)
}

// PrepFsync prepares fsync(2) of fd, or fdatasync(2) with FsyncDataSync in flags.
func (s *SQE) PrepFsync(fd int, flags uint32) {
	s.prepRW(OpFsync, fd, 0, 0, 0)
	s.OpFlags = flags
}

// PrepReadv prepares preadv(2) of fd into iovs at offset off. The iovec array and every buffer it
// points to must stay alive and unmoved until the CQE.
func (s *SQE) PrepReadv(fd int, iovs []unix.Iovec, off uint64) {
	s.prepRW(OpReadv, fd, uint64(uintptr(unsafe.Pointer(unsafe.SliceData(iovs)))), lenOf(len(iovs)), off)
}

// PrepWritev prepares pwritev(2) of iovs to fd at offset off (0 for sockets and pipes). The iovec
// array and every buffer it points to must stay alive and unmoved until the CQE.
func (s *SQE) PrepWritev(fd int, iovs []unix.Iovec, off uint64) {
	s.prepRW(OpWritev, fd, uint64(uintptr(unsafe.Pointer(unsafe.SliceData(iovs)))), lenOf(len(iovs)), off)
}

// PrepAccept prepares accept4(2) on the listening socket fd with flags (unix.SOCK_NONBLOCK,
// unix.SOCK_CLOEXEC); Res is the new fd. addr and addrLen may be nil; if not, *addrLen holds the size
// of *addr, and both must stay alive and unmoved until the CQE.
func (s *SQE) PrepAccept(fd int, addr *unix.RawSockaddrAny, addrLen *uint32, flags int) {
	s.prepRW(OpAccept, fd, uint64(uintptr(unsafe.Pointer(addr))), 0, uint64(uintptr(unsafe.Pointer(addrLen))))
	s.OpFlags = uint32(flags)
}

// PrepMultishotAccept prepares a multishot accept (5.19) on the listening socket fd: one CQE per
// accepted connection (Res is the new fd) with CQEFMore set while the accept stays armed. A CQE without
// CQEFMore ends it (an error, or a cancel) and it must be re-armed. flags as for PrepAccept. No peer
// address is reported; use getpeername on the new fd.
func (s *SQE) PrepMultishotAccept(fd int, flags int) {
	s.PrepAccept(fd, nil, nil, flags)
	s.IoPrio |= acceptMultishot
}

// PrepConnect prepares connect(2) of the socket fd to the address in addr, of addrLen bytes. Fill addr
// through a view of the concrete type, such as (*unix.RawSockaddrInet4)(unsafe.Pointer(addr)) with
// addrLen unix.SizeofSockaddrInet4; a RawSockaddrAny is large enough for every family, so the view is
// valid (the reverse conversion is not). Res is 0 or -errno. addr must stay alive and unmoved until
// the CQE.
func (s *SQE) PrepConnect(fd int, addr *unix.RawSockaddrAny, addrLen uint32) {
	s.prepRW(OpConnect, fd, uint64(uintptr(unsafe.Pointer(addr))), 0, uint64(addrLen))
}

// PrepRecv prepares recv(2) of the socket fd into buf with MSG_* flags. buf must stay alive and
// unmoved until the CQE.
func (s *SQE) PrepRecv(fd int, buf []byte, flags int) {
	s.prepRW(OpRecv, fd, addrOf(buf), lenOf(len(buf)), 0)
	s.OpFlags = uint32(flags)
}

// PrepRecvSelect prepares a single recv(2) of the socket fd into a buffer the kernel picks from the
// provided-buffer group (see BufRing); the CQE has CQEFBuffer and the buffer id. Res is -ENOBUFS when
// the group is empty.
func (s *SQE) PrepRecvSelect(fd int, group uint16, flags int) {
	s.prepRW(OpRecv, fd, 0, 0, 0)
	s.OpFlags = uint32(flags)
	s.Flags |= SQEBufferSelect
	s.BufIndex = group
}

// PrepRecvMultishot prepares a multishot recv (6.0) of the socket fd into buffers the kernel picks
// from the provided-buffer group (see BufRing): one CQE per receive with CQEFBuffer and the buffer id,
// and CQEFMore while it stays armed. Res 0 without CQEFMore is end of file. -ENOBUFS (the group ran
// dry) and any other CQE without CQEFMore end it: recycle buffers and re-arm.
func (s *SQE) PrepRecvMultishot(fd int, group uint16, flags int) {
	s.PrepRecvSelect(fd, group, flags)
	s.IoPrio |= recvMultishot
}

// SetRecvLimit makes a multishot recv (PrepRecvMultishot) end by itself once it has received total
// bytes (sqe->optlen, Linux 6.17: "io_uring/net: Support multishot receive len cap"): the CQE that
// reaches the limit carries its data without CQEFMore, and the recv must be armed again to read on. A
// receive is not cut to fit the limit, so the last one may go past it by up to a buffer (or Len, the
// cap of one receive, when set). Older kernels fail the recv with EINVAL: check RecvLimitSupported.
func (s *SQE) SetRecvLimit(total uint32) { s.FileIndex = total }

// PrepSend prepares send(2) of buf on the socket fd with MSG_* flags (unix.MSG_NOSIGNAL is advisable).
// Res may be short. buf must stay alive and unmoved until the CQE.
func (s *SQE) PrepSend(fd int, buf []byte, flags int) {
	s.prepRW(OpSend, fd, addrOf(buf), lenOf(len(buf)), 0)
	s.OpFlags = uint32(flags)
}

// PrepSendZC prepares a zero-copy send (6.0) of buf on the socket fd with MSG_* flags and zcFlags
// (SendZCReportUsage, RecvSendPollFirst). It posts two CQEs: the result, with CQEFMore, then a
// notification with CQEFNotif once the kernel no longer reads buf; if the first CQE lacks CQEFMore (an
// early error), no notification follows. buf must stay alive and unmoved until the notification, not
// just the first CQE.
func (s *SQE) PrepSendZC(fd int, buf []byte, flags int, zcFlags uint16) {
	s.prepRW(OpSendZC, fd, addrOf(buf), lenOf(len(buf)), 0)
	s.OpFlags = uint32(flags)
	s.IoPrio = zcFlags
}

// PrepSendmsg prepares sendmsg(2) of msg on the socket fd with MSG_* flags. msg, its iovec array, the
// buffers, the name and the control data must stay alive and unmoved until the CQE.
func (s *SQE) PrepSendmsg(fd int, msg *unix.Msghdr, flags int) {
	s.prepRW(OpSendmsg, fd, uint64(uintptr(unsafe.Pointer(msg))), 1, 0)
	s.OpFlags = uint32(flags)
}

// PrepRecvmsg prepares recvmsg(2) into msg on the socket fd with MSG_* flags. msg and everything it
// points to must stay alive and unmoved until the CQE.
func (s *SQE) PrepRecvmsg(fd int, msg *unix.Msghdr, flags int) {
	s.prepRW(OpRecvmsg, fd, uint64(uintptr(unsafe.Pointer(msg))), 1, 0)
	s.OpFlags = uint32(flags)
}

// PrepClose prepares close(2) of fd. Close an fd only after every operation on it has posted its
// final CQE, so that a reused fd number never receives a stale operation.
func (s *SQE) PrepClose(fd int) { s.prepRW(OpClose, fd, 0, 0, 0) }

// PrepShutdown prepares shutdown(2) of the socket fd; how is unix.SHUT_RD, SHUT_WR or SHUT_RDWR.
func (s *SQE) PrepShutdown(fd int, how int) { s.prepRW(OpShutdown, fd, 0, uint32(how), 0) }

// PrepCancel prepares the cancellation of the operation whose UserData is target (flags: CancelAll to
// cancel every match). The target posts -ECANCELED (or completes normally if it was already done);
// this SQE's Res is 0, -ENOENT when nothing matched, -EALREADY when the target was already running,
// or the count with CancelAll.
func (s *SQE) PrepCancel(target uint64, flags uint32) {
	s.prepRW(OpAsyncCancel, -1, target, 0, 0)
	s.OpFlags = flags
}

// PrepCancelFd prepares the cancellation (5.19) of the operations on fd: the first match, or all with
// CancelAll (Res is then the count). With CancelFdFixed, fd is a registered file index.
func (s *SQE) PrepCancelFd(fd int, flags uint32) {
	s.prepRW(OpAsyncCancel, fd, 0, 0, 0)
	s.OpFlags = flags | cancelFd
}

// PrepTimeout prepares a timeout that completes with -ETIME when ts has passed (relative unless
// TimeoutAbs is in flags), or with Res 0 once count other completions have been posted (0: the count
// does not matter). The kernel reads *ts when the SQE is submitted; keep it alive and unmoved until the
// CQE all the same, as a later kernel may read it later.
func (s *SQE) PrepTimeout(ts *Timespec, count uint32, flags uint32) {
	s.prepRW(OpTimeout, -1, uint64(uintptr(unsafe.Pointer(ts))), 1, uint64(count))
	s.OpFlags = flags
}

// PrepTimeoutRemove prepares the removal of the timeout whose UserData is target: it posts -ECANCELED
// and this SQE's Res is 0, or -ENOENT if it was not found.
func (s *SQE) PrepTimeoutRemove(target uint64, flags uint32) {
	s.prepRW(OpTimeoutRemove, -1, target, 0, 0)
	s.OpFlags = flags
}

// PrepLinkTimeout prepares a timeout for the SQE just before it, which must carry SQEIOLink: if ts
// passes first, that operation is cancelled (-ECANCELED) and this one posts -ETIME; otherwise this
// one posts -ECANCELED. ts as for PrepTimeout.
func (s *SQE) PrepLinkTimeout(ts *Timespec, flags uint32) {
	s.prepRW(OpLinkTimeout, -1, uint64(uintptr(unsafe.Pointer(ts))), 1, 0)
	s.OpFlags = flags
}

// PrepPollAdd prepares a one-shot poll of fd for events (unix.POLLIN, ...); Res is the ready mask.
// The kernel rejects PollAddLevel in Len (EINVAL).
func (s *SQE) PrepPollAdd(fd int, events uint32) {
	s.prepRW(OpPollAdd, fd, 0, 0, 0)
	s.OpFlags = pollMask(events)
}

// PrepPollMultishot prepares a multishot poll (5.13) of fd for events: a CQE with the ready mask and
// CQEFMore each time fd becomes ready, until a CQE without CQEFMore.
func (s *SQE) PrepPollMultishot(fd int, events uint32) {
	s.PrepPollAdd(fd, events)
	s.Len = pollAddMulti
}

// PrepPollRemove prepares the removal of the poll whose UserData is target.
func (s *SQE) PrepPollRemove(target uint64) { s.prepRW(OpPollRemove, -1, target, 0, 0) }

// PrepMsgRing prepares a message (5.18) to the ring whose fd is ringFd: it posts a CQE with UserData
// userData and Res res on that ring, a cheap cross-loop wake-up. This SQE's own CQE has Res 0 or an
// error. A full target CQ is no error: with IORING_FEAT_NODROP (which Available requires) the message
// goes to the target's overflow backlog, Res is 0, and the target sees it at its next enter.
func (s *SQE) PrepMsgRing(ringFd int, res uint32, userData uint64, flags uint32) {
	s.prepRW(OpMsgRing, ringFd, msgRingData, res, userData)
	s.OpFlags = flags
}

// pollMask converts poll events to the poll32_events layout, which is word-swapped on big-endian.
func pollMask(events uint32) uint32 {
	if bigEndian {
		return events<<16 | events>>16
	}
	return events
}
