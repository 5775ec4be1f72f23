package uring

import (
	"strconv"
	"strings"
)

// SetupFlags is a set of IORING_SETUP_* flags: what New asked io_uring_setup for and what took.
type SetupFlags uint32

// Setup flags (IORING_SETUP_*). New chooses them by capability; see New.
const (
	SetupIOPoll           SetupFlags = 1 << 0
	SetupSQPoll           SetupFlags = 1 << 1
	SetupSQAff            SetupFlags = 1 << 2
	SetupCQSize           SetupFlags = 1 << 3
	SetupClamp            SetupFlags = 1 << 4
	SetupAttachWQ         SetupFlags = 1 << 5
	SetupRDisabled        SetupFlags = 1 << 6
	SetupSubmitAll        SetupFlags = 1 << 7  // 5.18
	SetupCoopTaskrun      SetupFlags = 1 << 8  // 5.19
	SetupTaskrunFlag      SetupFlags = 1 << 9  // 5.19
	SetupSQE128           SetupFlags = 1 << 10 // 5.19
	SetupCQE32            SetupFlags = 1 << 11 // 5.19
	SetupSingleIssuer     SetupFlags = 1 << 12 // 6.0
	SetupDeferTaskrun     SetupFlags = 1 << 13 // 6.1
	SetupNoMmap           SetupFlags = 1 << 14 // 6.5
	SetupRegisteredFDOnly SetupFlags = 1 << 15 // 6.5
	SetupNoSQArray        SetupFlags = 1 << 16 // 6.6
	SetupHybridIOPoll     SetupFlags = 1 << 17 // 6.13
)

var setupFlagNames = [...]string{
	"IOPOLL", "SQPOLL", "SQ_AFF", "CQSIZE", "CLAMP", "ATTACH_WQ", "R_DISABLED", "SUBMIT_ALL",
	"COOP_TASKRUN", "TASKRUN_FLAG", "SQE128", "CQE32", "SINGLE_ISSUER", "DEFER_TASKRUN", "NO_MMAP",
	"REGISTERED_FD_ONLY", "NO_SQARRAY", "HYBRID_IOPOLL",
}

// String lists the flags by their kernel names, such as "SINGLE_ISSUER|DEFER_TASKRUN".
func (f SetupFlags) String() string { return bitNames(uint32(f), setupFlagNames[:]) }

// Features is the set of IORING_FEAT_* bits the kernel reported at setup.
type Features uint32

// Feature bits (IORING_FEAT_*).
const (
	FeatSingleMmap     Features = 1 << 0
	FeatNoDrop         Features = 1 << 1
	FeatSubmitStable   Features = 1 << 2
	FeatRWCurPos       Features = 1 << 3
	FeatCurPersonality Features = 1 << 4
	FeatFastPoll       Features = 1 << 5
	FeatPoll32Bits     Features = 1 << 6
	FeatSQPollNonfixed Features = 1 << 7
	FeatExtArg         Features = 1 << 8
	FeatNativeWorkers  Features = 1 << 9
	FeatRsrcTags       Features = 1 << 10
	FeatCQESkip        Features = 1 << 11
	FeatLinkedFile     Features = 1 << 12
	FeatRegRegRing     Features = 1 << 13 // 6.3
	FeatRecvSendBundle Features = 1 << 14 // 6.10
	FeatMinTimeout     Features = 1 << 15 // 6.12
	FeatRWAttr         Features = 1 << 16 // 6.14
	FeatNoIOWait       Features = 1 << 17 // 6.15
)

var featureNames = [...]string{
	"SINGLE_MMAP", "NODROP", "SUBMIT_STABLE", "RW_CUR_POS", "CUR_PERSONALITY", "FAST_POLL",
	"POLL_32BITS", "SQPOLL_NONFIXED", "EXT_ARG", "NATIVE_WORKERS", "RSRC_TAGS", "CQE_SKIP",
	"LINKED_FILE", "REG_REG_RING", "RECVSEND_BUNDLE", "MIN_TIMEOUT", "RW_ATTR", "NO_IOWAIT",
}

// String lists the features by their kernel names.
func (f Features) String() string { return bitNames(uint32(f), featureNames[:]) }

// SQE flags (IOSQE_*), for SQE.Flags.
const (
	SQEFixedFile      uint8 = 1 << 0 // Fd is an index into the files registered with RegisterFiles
	SQEIODrain        uint8 = 1 << 1 // start only after every earlier SQE has completed
	SQEIOLink         uint8 = 1 << 2 // the next SQE starts when this one completes successfully
	SQEIOHardlink     uint8 = 1 << 3 // like SQEIOLink, but the chain survives an error
	SQEAsync          uint8 = 1 << 4 // always punt to an io-wq worker (burns a thread; off by default)
	SQEBufferSelect   uint8 = 1 << 5 // pick a buffer from the group in SQE.BufIndex
	SQECQESkipSuccess uint8 = 1 << 6 // post no CQE on success (5.17, FeatCQESkip)
)

// CQE flags (IORING_CQE_F_*), in CQE.Flags.
const (
	CQEFBuffer       uint32 = 1 << 0 // the upper 16 bits hold the id of the buffer the kernel picked
	CQEFMore         uint32 = 1 << 1 // the SQE is still armed and will post more CQEs
	CQEFSockNonempty uint32 = 1 << 2 // the socket had more data after this receive
	CQEFNotif        uint32 = 1 << 3 // a SEND_ZC notification: the kernel released the buffer
	CQEFBufMore      uint32 = 1 << 4 // 6.12: an incremental buffer has room left and is not consumed
)

// cqeBufferShift is IORING_CQE_BUFFER_SHIFT: with CQEFBuffer, CQE.Flags>>16 is the buffer id.
const cqeBufferShift = 16

// Timeout flags (IORING_TIMEOUT_*), for PrepTimeout and PrepLinkTimeout.
const (
	TimeoutAbs          uint32 = 1 << 0 // ts is an absolute CLOCK_MONOTONIC time, not a duration
	TimeoutBoottime     uint32 = 1 << 2
	TimeoutRealtime     uint32 = 1 << 3
	TimeoutETimeSuccess uint32 = 1 << 5 // an expiry counts as success for links
	TimeoutMultishot    uint32 = 1 << 6 // 6.4: fire repeatedly, count times (0 = forever)
)

// FsyncDataSync (IORING_FSYNC_DATASYNC) makes PrepFsync an fdatasync(2).
const FsyncDataSync uint32 = 1 << 0

// Cancel flags (IORING_ASYNC_CANCEL_*), for PrepCancel and PrepCancelFd.
const (
	CancelAll      uint32 = 1 << 0 // cancel every match, the CQE's Res is the count
	CancelAny      uint32 = 1 << 2 // match any request
	CancelFdFixed  uint32 = 1 << 3 // the fd is a registered file index
	CancelUserData uint32 = 1 << 4 // 6.6: match on user_data (the default without another key)
	CancelOp       uint32 = 1 << 5 // 6.6: match on opcode
)

// Send and receive flags for SQE.IoPrio (IORING_RECVSEND_*, IORING_SEND_ZC_*).
const (
	RecvSendPollFirst uint16 = 1 << 0 // arm poll before the first attempt (when data is unlikely)
	SendZCReportUsage uint16 = 1 << 3 // the F_NOTIF CQE's Res tells whether the data was copied
)

// NotifUsageZCCopied is set in the Res of a SEND_ZC notification CQE, when SendZCReportUsage was asked
// for, if the kernel copied the data instead of sending it zero-copy (it always does on loopback).
const NotifUsageZCCopied uint32 = 1 << 31

// Message ring flags (IORING_MSG_RING_*), for PrepMsgRing.
const (
	MsgRingCQESkip   uint32 = 1 << 0 // post no CQE on the target ring (not for data messages)
	MsgRingFlagsPass uint32 = 1 << 1 // 6.3: the target CQE's Flags come from SQE.FileIndex
)

// PollAddLevel is IORING_POLL_ADD_LEVEL, a level-triggered POLL_ADD, which the kernel added and then
// disabled again: a POLL_ADD with it in SQE.Len completes with -EINVAL (measured on 6.18). POLL_ADD is
// edge-triggered; a one-shot poll is re-armed after each completion.
const PollAddLevel uint32 = 1 << 3

// CurrentPos is the offset that makes a read or write use and advance the file position, like read(2).
const CurrentPos = ^uint64(0)

// bitNames joins the names of the set bits; unknown bits are printed in hex.
func bitNames(v uint32, names []string) string {
	if v == 0 {
		return "0"
	}
	var b strings.Builder
	for i := 0; v != 0 && i < 32; i++ {
		bit := uint32(1) << i
		if v&bit == 0 {
			continue
		}
		v &^= bit
		if b.Len() > 0 {
			b.WriteByte('|')
		}
		if i < len(names) {
			b.WriteString(names[i])
		} else {
			b.WriteString("0x" + strconv.FormatUint(uint64(bit), 16))
		}
	}
	return b.String()
}
