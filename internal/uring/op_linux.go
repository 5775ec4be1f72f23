package uring

import "strconv"

// Op is an io_uring opcode (enum io_uring_op), the first byte of an SQE.
type Op uint8

// Opcodes. The 6.1 system header stops at OpSendmsgZC; the later ones come from the current uapi
// header, with the kernel that added them.
const (
	OpNop Op = iota
	OpReadv
	OpWritev
	OpFsync
	OpReadFixed
	OpWriteFixed
	OpPollAdd
	OpPollRemove
	OpSyncFileRange
	OpSendmsg
	OpRecvmsg
	OpTimeout
	OpTimeoutRemove
	OpAccept
	OpAsyncCancel
	OpLinkTimeout
	OpConnect
	OpFallocate
	OpOpenat
	OpClose
	OpFilesUpdate
	OpStatx
	OpRead
	OpWrite
	OpFadvise
	OpMadvise
	OpSend
	OpRecv
	OpOpenat2
	OpEpollCtl
	OpSplice
	OpProvideBuffers
	OpRemoveBuffers
	OpTee
	OpShutdown
	OpRenameat
	OpUnlinkat
	OpMkdirat
	OpSymlinkat
	OpLinkat
	OpMsgRing
	OpFsetxattr
	OpSetxattr
	OpFgetxattr
	OpGetxattr
	OpSocket
	OpUringCmd
	OpSendZC
	OpSendmsgZC
	OpReadMultishot  // 6.7
	OpWaitid         // 6.7
	OpFutexWait      // 6.7
	OpFutexWake      // 6.7
	OpFutexWaitv     // 6.7
	OpFixedFdInstall // 6.8
	OpFtruncate      // 6.9
	OpBind           // 6.11
	OpListen         // 6.11
	OpRecvZC         // 6.15
	OpEpollWait      // 6.15
	OpReadvFixed     // 6.15
	OpWritevFixed    // 6.15
	OpPipe           // 6.16
)

var opNames = [...]string{
	"NOP", "READV", "WRITEV", "FSYNC", "READ_FIXED", "WRITE_FIXED", "POLL_ADD", "POLL_REMOVE",
	"SYNC_FILE_RANGE", "SENDMSG", "RECVMSG", "TIMEOUT", "TIMEOUT_REMOVE", "ACCEPT", "ASYNC_CANCEL",
	"LINK_TIMEOUT", "CONNECT", "FALLOCATE", "OPENAT", "CLOSE", "FILES_UPDATE", "STATX", "READ", "WRITE",
	"FADVISE", "MADVISE", "SEND", "RECV", "OPENAT2", "EPOLL_CTL", "SPLICE", "PROVIDE_BUFFERS",
	"REMOVE_BUFFERS", "TEE", "SHUTDOWN", "RENAMEAT", "UNLINKAT", "MKDIRAT", "SYMLINKAT", "LINKAT",
	"MSG_RING", "FSETXATTR", "SETXATTR", "FGETXATTR", "GETXATTR", "SOCKET", "URING_CMD", "SEND_ZC",
	"SENDMSG_ZC", "READ_MULTISHOT", "WAITID", "FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_WAITV",
	"FIXED_FD_INSTALL", "FTRUNCATE", "BIND", "LISTEN", "RECV_ZC", "EPOLL_WAIT", "READV_FIXED",
	"WRITEV_FIXED", "PIPE",
}

// String returns the kernel's name of the opcode without the IORING_OP_ prefix, such as "SEND_ZC".
func (op Op) String() string {
	if int(op) < len(opNames) {
		return opNames[op]
	}
	return "OP_" + strconv.Itoa(int(op))
}

// OpSet is a set of opcodes, as reported by Ring.Probe.
type OpSet [4]uint64

// Has reports whether op is in the set.
func (s *OpSet) Has(op Op) bool { return s[op>>6]&(1<<(op&63)) != 0 }

// Add puts op in the set.
func (s *OpSet) Add(op Op) { s[op>>6] |= 1 << (op & 63) }

// Missing returns the opcodes of want that are not in the set, in the order given.
func (s *OpSet) Missing(want ...Op) []Op {
	var miss []Op
	for _, op := range want {
		if !s.Has(op) {
			miss = append(miss, op)
		}
	}
	return miss
}

// Len returns the number of opcodes in the set.
func (s *OpSet) Len() int {
	n := 0
	for op := 0; op < 256; op++ {
		if s.Has(Op(op)) {
			n++
		}
	}
	return n
}
