package uring

import "unsafe"

// Kernel ABI of io_uring, written by hand from include/uapi/linux/io_uring.h. The Debian headers on the
// development machines are 6.1 and older than the 6.18 kernel, so every value newer than 6.1 carries
// the kernel version that introduced it. x/sys/unix has only the syscall numbers.

// params mirrors struct io_uring_params (120 bytes), passed to io_uring_setup and filled by the kernel.
type params struct {
	sqEntries    uint32
	cqEntries    uint32
	flags        uint32
	sqThreadCPU  uint32
	sqThreadIdle uint32
	features     uint32
	wqFd         uint32
	resv         [3]uint32
	sqOff        sqringOffsets
	cqOff        cqringOffsets
}

// sqringOffsets mirrors struct io_sqring_offsets: byte offsets into the SQ ring mapping.
type sqringOffsets struct {
	head        uint32
	tail        uint32
	ringMask    uint32
	ringEntries uint32
	flags       uint32
	dropped     uint32
	array       uint32 // 0 with SetupNoSQArray: there is no index array
	resv1       uint32
	userAddr    uint64 // used only with SetupNoMmap (6.5)
}

// cqringOffsets mirrors struct io_cqring_offsets: byte offsets into the CQ ring mapping.
type cqringOffsets struct {
	head        uint32
	tail        uint32
	ringMask    uint32
	ringEntries uint32
	overflow    uint32
	cqes        uint32
	flags       uint32
	resv1       uint32
	userAddr    uint64
}

// getEventsArg mirrors struct io_uring_getevents_arg (24 bytes), the IORING_ENTER_EXT_ARG argument.
type getEventsArg struct {
	sigmask     uint64
	sigmaskSz   uint32
	minWaitUsec uint32 // "pad" before 6.12 (FeatMinTimeout); see Ring.SetMinWait
	ts          uint64 // address of a Timespec, or 0 for no timeout
}

// bufReg mirrors struct io_uring_buf_reg (40 bytes), the IORING_REGISTER_PBUF_RING argument.
type bufReg struct {
	ringAddr    uint64
	ringEntries uint32
	bgid        uint16
	flags       uint16 // "pad" in 6.1; IOU_PBUF_RING_MMAP (6.4), IOU_PBUF_RING_INC (6.12)
	resv        [3]uint64
}

// rsrcUpdate mirrors struct io_uring_rsrc_update, the IORING_(UN)REGISTER_RING_FDS argument.
type rsrcUpdate struct {
	offset uint32
	resv   uint32
	data   uint64
}

// probeOp mirrors struct io_uring_probe_op.
type probeOp struct {
	op    uint8
	resv  uint8
	flags uint16 // opSupported
	resv2 uint32
}

// probeBuf mirrors struct io_uring_probe followed by room for every possible opcode.
type probeBuf struct {
	lastOp uint8
	opsLen uint8
	resv   uint16
	resv2  [3]uint32
	ops    [256]probeOp
}

// Timespec mirrors struct __kernel_timespec, which is 64-bit on every architecture (unlike
// unix.Timespec on 32-bit ones). It is the type TIMEOUT and LINK_TIMEOUT SQEs point to.
type Timespec struct {
	Sec  int64
	Nsec int64
}

// Size checks at compile time: a wrong layout fails the build instead of corrupting memory. Each pair
// of array types has a negative length, which does not compile, unless the size is exact.
var (
	_ [unsafe.Sizeof(params{}) - 120]byte
	_ [120 - unsafe.Sizeof(params{})]byte
	_ [unsafe.Sizeof(SQE{}) - 64]byte
	_ [64 - unsafe.Sizeof(SQE{})]byte
	_ [unsafe.Sizeof(CQE{}) - 16]byte
	_ [16 - unsafe.Sizeof(CQE{})]byte
	_ [unsafe.Sizeof(bufReg{}) - 40]byte
	_ [40 - unsafe.Sizeof(bufReg{})]byte
	_ [unsafe.Sizeof(getEventsArg{}) - 24]byte
	_ [24 - unsafe.Sizeof(getEventsArg{})]byte
	_ [unsafe.Sizeof(probeBuf{}) - (16 + 256*8)]byte
	_ [(16 + 256*8) - unsafe.Sizeof(probeBuf{})]byte
	_ [unsafe.Sizeof(Timespec{}) - 16]byte
	_ [16 - unsafe.Sizeof(Timespec{})]byte
)

// mmap offsets (IORING_OFF_*).
const (
	offSQRing = 0
	offCQRing = 0x8000000
	offSQEs   = 0x10000000
)

// io_uring_enter flags (IORING_ENTER_*).
const (
	enterGetEvents      = 1 << 0
	enterExtArg         = 1 << 3
	enterRegisteredRing = 1 << 4 // 5.18
)

// sq_ring->flags (IORING_SQ_*), written by the kernel.
const (
	sqCQOverflow = 1 << 1
	sqTaskrun    = 1 << 2 // 5.19, with SetupTaskrunFlag
)

// cq_ring->flags (IORING_CQ_*), written by the application.
const cqEventFDDisabled = 1 << 0 // 5.8

// io_uring_register opcodes (IORING_REGISTER_*).
const (
	registerFiles      = 2
	unregisterFiles    = 3
	registerEventFD    = 4
	unregisterEventFD  = 5
	registerProbe      = 8
	registerRingFDs    = 20 // 5.18
	unregisterRingFDs  = 21 // 5.18
	registerPbufRing   = 22 // 5.19
	unregisterPbufRing = 23 // 5.19
)

// Limits, sizes and per-opcode flag values of the ABI.
const (
	maxEntries            = 32768 // IORING_MAX_ENTRIES
	maxCQEntries          = 2 * maxEntries
	maxBufRingEntries     = 32768 // ring_entries must be a power of two below 65536
	sqeSize               = 64
	cqeSize               = 16
	bufRingEntrySize      = 16
	bufRingTailWordOffset = 12     // bufs[0].bid (bytes 12..13) and the u16 tail (bytes 14..15)
	sigsetSize            = 8      // _NSIG / 8, the sigmask_sz of getEventsArg
	opSupported           = 1 << 0 // IO_URING_OP_SUPPORTED in probeOp.flags
	msgRingData           = 0      // IORING_MSG_DATA, in sqe->addr of MSG_RING
	acceptMultishot       = 1 << 0 // IORING_ACCEPT_MULTISHOT, in sqe->ioprio
	recvMultishot         = 1 << 1 // IORING_RECV_MULTISHOT, in sqe->ioprio
	pollAddMulti          = 1 << 0 // IORING_POLL_ADD_MULTI, in sqe->len
	cancelFd              = 1 << 1 // IORING_ASYNC_CANCEL_FD
	pbufRingInc           = 1 << 1 // IOU_PBUF_RING_INC (6.12), in bufReg.flags
)

// bigEndian reports the byte order, needed for the word-swapped poll32_events field.
var bigEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 0
}()
