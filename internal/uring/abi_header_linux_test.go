package uring

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// abiCheck is one number the Go side hard-codes, and the C expression that gives it from the uapi
// header. guard, if set, is a macro the expression needs: the check is left out where the system
// header (Debian's is 6.1, older than the kernel) does not define it.
type abiCheck struct {
	c     string
	guard string
	got   uint64
}

func off(v uintptr) uint64 { return uint64(v) }

// abiChecks lists every offset, size and constant of abi_linux.go, flags_linux.go and op_linux.go
// that a 6.1 header can confirm, under names present in every header since (fields renamed after 6.1,
// such as io_uring_buf_reg.pad and io_uring_getevents_arg.pad, are checked through their neighbours).
func abiChecks() []abiCheck {
	var (
		p  params
		s  SQE
		c  CQE
		g  getEventsArg
		br bufReg
		ru rsrcUpdate
		pb probeBuf
		po probeOp
	)
	k := []abiCheck{
		// struct io_uring_params and its offset structs
		{c: "sizeof(struct io_uring_params)", got: off(unsafe.Sizeof(p))},
		{c: "offsetof(struct io_uring_params, sq_entries)", got: off(unsafe.Offsetof(p.sqEntries))},
		{c: "offsetof(struct io_uring_params, cq_entries)", got: off(unsafe.Offsetof(p.cqEntries))},
		{c: "offsetof(struct io_uring_params, flags)", got: off(unsafe.Offsetof(p.flags))},
		{c: "offsetof(struct io_uring_params, sq_thread_cpu)", got: off(unsafe.Offsetof(p.sqThreadCPU))},
		{c: "offsetof(struct io_uring_params, sq_thread_idle)", got: off(unsafe.Offsetof(p.sqThreadIdle))},
		{c: "offsetof(struct io_uring_params, features)", got: off(unsafe.Offsetof(p.features))},
		{c: "offsetof(struct io_uring_params, wq_fd)", got: off(unsafe.Offsetof(p.wqFd))},
		{c: "offsetof(struct io_uring_params, resv)", got: off(unsafe.Offsetof(p.resv))},
		{c: "offsetof(struct io_uring_params, sq_off)", got: off(unsafe.Offsetof(p.sqOff))},
		{c: "offsetof(struct io_uring_params, cq_off)", got: off(unsafe.Offsetof(p.cqOff))},
		{c: "sizeof(struct io_sqring_offsets)", got: off(unsafe.Sizeof(p.sqOff))},
		{c: "offsetof(struct io_sqring_offsets, head)", got: off(unsafe.Offsetof(p.sqOff.head))},
		{c: "offsetof(struct io_sqring_offsets, tail)", got: off(unsafe.Offsetof(p.sqOff.tail))},
		{c: "offsetof(struct io_sqring_offsets, ring_mask)", got: off(unsafe.Offsetof(p.sqOff.ringMask))},
		{c: "offsetof(struct io_sqring_offsets, ring_entries)", got: off(unsafe.Offsetof(p.sqOff.ringEntries))},
		{c: "offsetof(struct io_sqring_offsets, flags)", got: off(unsafe.Offsetof(p.sqOff.flags))},
		{c: "offsetof(struct io_sqring_offsets, dropped)", got: off(unsafe.Offsetof(p.sqOff.dropped))},
		{c: "offsetof(struct io_sqring_offsets, array)", got: off(unsafe.Offsetof(p.sqOff.array))},
		{c: "offsetof(struct io_sqring_offsets, resv1)", got: off(unsafe.Offsetof(p.sqOff.resv1))},
		{c: "sizeof(struct io_cqring_offsets)", got: off(unsafe.Sizeof(p.cqOff))},
		{c: "offsetof(struct io_cqring_offsets, head)", got: off(unsafe.Offsetof(p.cqOff.head))},
		{c: "offsetof(struct io_cqring_offsets, tail)", got: off(unsafe.Offsetof(p.cqOff.tail))},
		{c: "offsetof(struct io_cqring_offsets, ring_mask)", got: off(unsafe.Offsetof(p.cqOff.ringMask))},
		{c: "offsetof(struct io_cqring_offsets, ring_entries)", got: off(unsafe.Offsetof(p.cqOff.ringEntries))},
		{c: "offsetof(struct io_cqring_offsets, overflow)", got: off(unsafe.Offsetof(p.cqOff.overflow))},
		{c: "offsetof(struct io_cqring_offsets, cqes)", got: off(unsafe.Offsetof(p.cqOff.cqes))},
		{c: "offsetof(struct io_cqring_offsets, flags)", got: off(unsafe.Offsetof(p.cqOff.flags))},
		{c: "offsetof(struct io_cqring_offsets, resv1)", got: off(unsafe.Offsetof(p.cqOff.resv1))},

		// struct io_uring_sqe and io_uring_cqe
		{c: "sizeof(struct io_uring_sqe)", got: off(unsafe.Sizeof(s))},
		{c: "offsetof(struct io_uring_sqe, opcode)", got: off(unsafe.Offsetof(s.Opcode))},
		{c: "offsetof(struct io_uring_sqe, flags)", got: off(unsafe.Offsetof(s.Flags))},
		{c: "offsetof(struct io_uring_sqe, ioprio)", got: off(unsafe.Offsetof(s.IoPrio))},
		{c: "offsetof(struct io_uring_sqe, fd)", got: off(unsafe.Offsetof(s.Fd))},
		{c: "offsetof(struct io_uring_sqe, off)", got: off(unsafe.Offsetof(s.Off))},
		{c: "offsetof(struct io_uring_sqe, addr2)", got: off(unsafe.Offsetof(s.Off))},
		{c: "offsetof(struct io_uring_sqe, addr)", got: off(unsafe.Offsetof(s.Addr))},
		{c: "offsetof(struct io_uring_sqe, splice_off_in)", got: off(unsafe.Offsetof(s.Addr))},
		{c: "offsetof(struct io_uring_sqe, len)", got: off(unsafe.Offsetof(s.Len))},
		{c: "offsetof(struct io_uring_sqe, rw_flags)", got: off(unsafe.Offsetof(s.OpFlags))},
		{c: "offsetof(struct io_uring_sqe, poll32_events)", got: off(unsafe.Offsetof(s.OpFlags))},
		{c: "offsetof(struct io_uring_sqe, msg_ring_flags)", got: off(unsafe.Offsetof(s.OpFlags))},
		{c: "offsetof(struct io_uring_sqe, user_data)", got: off(unsafe.Offsetof(s.UserData))},
		{c: "offsetof(struct io_uring_sqe, buf_index)", got: off(unsafe.Offsetof(s.BufIndex))},
		{c: "offsetof(struct io_uring_sqe, buf_group)", got: off(unsafe.Offsetof(s.BufIndex))},
		{c: "offsetof(struct io_uring_sqe, personality)", got: off(unsafe.Offsetof(s.Personality))},
		{c: "offsetof(struct io_uring_sqe, splice_fd_in)", got: off(unsafe.Offsetof(s.FileIndex))},
		{c: "offsetof(struct io_uring_sqe, file_index)", got: off(unsafe.Offsetof(s.FileIndex))},
		{c: "offsetof(struct io_uring_sqe, addr3)", got: off(unsafe.Offsetof(s.Addr3))},
		{c: "sizeof(struct io_uring_cqe)", got: off(unsafe.Sizeof(c))},
		{c: "offsetof(struct io_uring_cqe, user_data)", got: off(unsafe.Offsetof(c.UserData))},
		{c: "offsetof(struct io_uring_cqe, res)", got: off(unsafe.Offsetof(c.Res))},
		{c: "offsetof(struct io_uring_cqe, flags)", got: off(unsafe.Offsetof(c.Flags))},

		// arguments of io_uring_enter and io_uring_register
		{c: "sizeof(struct io_uring_getevents_arg)", got: off(unsafe.Sizeof(g))},
		{c: "offsetof(struct io_uring_getevents_arg, sigmask)", got: off(unsafe.Offsetof(g.sigmask))},
		{c: "offsetof(struct io_uring_getevents_arg, sigmask_sz)", got: off(unsafe.Offsetof(g.sigmaskSz))},
		{c: "offsetof(struct io_uring_getevents_arg, sigmask_sz) + 4", got: off(unsafe.Offsetof(g.minWaitUsec))},
		{c: "offsetof(struct io_uring_getevents_arg, ts)", got: off(unsafe.Offsetof(g.ts))},
		{c: "sizeof(struct io_uring_buf_reg)", got: off(unsafe.Sizeof(br))},
		{c: "offsetof(struct io_uring_buf_reg, ring_addr)", got: off(unsafe.Offsetof(br.ringAddr))},
		{c: "offsetof(struct io_uring_buf_reg, ring_entries)", got: off(unsafe.Offsetof(br.ringEntries))},
		{c: "offsetof(struct io_uring_buf_reg, bgid)", got: off(unsafe.Offsetof(br.bgid))},
		{c: "offsetof(struct io_uring_buf_reg, bgid) + 2", got: off(unsafe.Offsetof(br.flags))},
		{c: "offsetof(struct io_uring_buf_reg, resv)", got: off(unsafe.Offsetof(br.resv))},
		{c: "sizeof(struct io_uring_rsrc_update)", got: off(unsafe.Sizeof(ru))},
		{c: "offsetof(struct io_uring_rsrc_update, offset)", got: off(unsafe.Offsetof(ru.offset))},
		{c: "offsetof(struct io_uring_rsrc_update, resv)", got: off(unsafe.Offsetof(ru.resv))},
		{c: "offsetof(struct io_uring_rsrc_update, data)", got: off(unsafe.Offsetof(ru.data))},
		{c: "sizeof(struct io_uring_probe_op)", got: off(unsafe.Sizeof(po))},
		{c: "offsetof(struct io_uring_probe_op, op)", got: off(unsafe.Offsetof(po.op))},
		{c: "offsetof(struct io_uring_probe_op, flags)", got: off(unsafe.Offsetof(po.flags))},
		{c: "offsetof(struct io_uring_probe, last_op)", got: off(unsafe.Offsetof(pb.lastOp))},
		{c: "offsetof(struct io_uring_probe, ops_len)", got: off(unsafe.Offsetof(pb.opsLen))},
		{c: "offsetof(struct io_uring_probe, ops)", got: off(unsafe.Offsetof(pb.ops))},
		{c: "sizeof(struct __kernel_timespec)", got: off(unsafe.Sizeof(Timespec{}))},
		{c: "offsetof(struct __kernel_timespec, tv_nsec)", got: off(unsafe.Offsetof(Timespec{}.Nsec))},

		// the provided-buffer ring, written by BufRing.Add and Advance
		{c: "sizeof(struct io_uring_buf)", got: bufRingEntrySize},
		{c: "offsetof(struct io_uring_buf, addr)", got: 0},
		{c: "offsetof(struct io_uring_buf, len)", got: 8},
		{c: "offsetof(struct io_uring_buf, bid)", got: bufRingTailWordOffset},
		{c: "offsetof(struct io_uring_buf_ring, tail)", got: bufRingTailWordOffset + 2},

		// constants of abi_linux.go
		{c: "IORING_OFF_SQ_RING", got: offSQRing},
		{c: "IORING_OFF_CQ_RING", got: offCQRing},
		{c: "IORING_OFF_SQES", got: offSQEs},
		{c: "IORING_ENTER_GETEVENTS", got: enterGetEvents},
		{c: "IORING_ENTER_EXT_ARG", got: enterExtArg},
		{c: "IORING_ENTER_REGISTERED_RING", got: enterRegisteredRing},
		{c: "IORING_SQ_CQ_OVERFLOW", got: sqCQOverflow},
		{c: "IORING_SQ_TASKRUN", got: sqTaskrun},
		{c: "IORING_CQ_EVENTFD_DISABLED", got: cqEventFDDisabled},
		{c: "IORING_REGISTER_FILES", got: registerFiles},
		{c: "IORING_UNREGISTER_FILES", got: unregisterFiles},
		{c: "IORING_REGISTER_EVENTFD", got: registerEventFD},
		{c: "IORING_UNREGISTER_EVENTFD", got: unregisterEventFD},
		{c: "IORING_REGISTER_PROBE", got: registerProbe},
		{c: "IORING_REGISTER_RING_FDS", got: registerRingFDs},
		{c: "IORING_UNREGISTER_RING_FDS", got: unregisterRingFDs},
		{c: "IORING_REGISTER_PBUF_RING", got: registerPbufRing},
		{c: "IORING_UNREGISTER_PBUF_RING", got: unregisterPbufRing},
		{c: "IO_URING_OP_SUPPORTED", got: opSupported},
		{c: "IORING_MSG_DATA", got: msgRingData},
		{c: "IORING_ACCEPT_MULTISHOT", got: acceptMultishot},
		{c: "IORING_RECV_MULTISHOT", got: recvMultishot},
		{c: "IORING_POLL_ADD_MULTI", got: pollAddMulti},
		{c: "IORING_ASYNC_CANCEL_FD", got: cancelFd},
		{c: "IOU_PBUF_RING_INC", guard: "IOU_PBUF_RING_INC", got: pbufRingInc},
		{c: "IORING_CQE_BUFFER_SHIFT", got: cqeBufferShift},

		// constants of flags_linux.go
		{c: "IOSQE_FIXED_FILE", got: uint64(SQEFixedFile)},
		{c: "IOSQE_IO_DRAIN", got: uint64(SQEIODrain)},
		{c: "IOSQE_IO_LINK", got: uint64(SQEIOLink)},
		{c: "IOSQE_IO_HARDLINK", got: uint64(SQEIOHardlink)},
		{c: "IOSQE_ASYNC", got: uint64(SQEAsync)},
		{c: "IOSQE_BUFFER_SELECT", got: uint64(SQEBufferSelect)},
		{c: "IOSQE_CQE_SKIP_SUCCESS", got: uint64(SQECQESkipSuccess)},
		{c: "IORING_CQE_F_BUFFER", got: uint64(CQEFBuffer)},
		{c: "IORING_CQE_F_MORE", got: uint64(CQEFMore)},
		{c: "IORING_CQE_F_SOCK_NONEMPTY", got: uint64(CQEFSockNonempty)},
		{c: "IORING_CQE_F_NOTIF", got: uint64(CQEFNotif)},
		{c: "IORING_CQE_F_BUF_MORE", guard: "IORING_CQE_F_BUF_MORE", got: uint64(CQEFBufMore)},
		{c: "IORING_TIMEOUT_ABS", got: uint64(TimeoutAbs)},
		{c: "IORING_TIMEOUT_BOOTTIME", got: uint64(TimeoutBoottime)},
		{c: "IORING_TIMEOUT_REALTIME", got: uint64(TimeoutRealtime)},
		{c: "IORING_TIMEOUT_ETIME_SUCCESS", got: uint64(TimeoutETimeSuccess)},
		{c: "IORING_TIMEOUT_MULTISHOT", guard: "IORING_TIMEOUT_MULTISHOT", got: uint64(TimeoutMultishot)},
		{c: "IORING_FSYNC_DATASYNC", got: uint64(FsyncDataSync)},
		{c: "IORING_ASYNC_CANCEL_ALL", got: uint64(CancelAll)},
		{c: "IORING_ASYNC_CANCEL_ANY", got: uint64(CancelAny)},
		{c: "IORING_ASYNC_CANCEL_FD_FIXED", got: uint64(CancelFdFixed)},
		{c: "IORING_ASYNC_CANCEL_USERDATA", guard: "IORING_ASYNC_CANCEL_USERDATA", got: uint64(CancelUserData)},
		{c: "IORING_ASYNC_CANCEL_OP", guard: "IORING_ASYNC_CANCEL_OP", got: uint64(CancelOp)},
		{c: "IORING_RECVSEND_POLL_FIRST", got: uint64(RecvSendPollFirst)},
		{c: "IORING_SEND_ZC_REPORT_USAGE", guard: "IORING_SEND_ZC_REPORT_USAGE", got: uint64(SendZCReportUsage)},
		{c: "IORING_NOTIF_USAGE_ZC_COPIED", guard: "IORING_NOTIF_USAGE_ZC_COPIED", got: uint64(NotifUsageZCCopied)},
		{c: "IORING_MSG_RING_CQE_SKIP", got: uint64(MsgRingCQESkip)},
		{c: "IORING_MSG_RING_FLAGS_PASS", guard: "IORING_MSG_RING_FLAGS_PASS", got: uint64(MsgRingFlagsPass)},
		{c: "IORING_POLL_ADD_LEVEL", guard: "IORING_POLL_ADD_LEVEL", got: uint64(PollAddLevel)},
	}
	setup := []string{"IOPOLL", "SQPOLL", "SQ_AFF", "CQSIZE", "CLAMP", "ATTACH_WQ", "R_DISABLED", "SUBMIT_ALL",
		"COOP_TASKRUN", "TASKRUN_FLAG", "SQE128", "CQE32", "SINGLE_ISSUER", "DEFER_TASKRUN", "NO_MMAP",
		"REGISTERED_FD_ONLY", "NO_SQARRAY", "HYBRID_IOPOLL"}
	setupVals := []SetupFlags{SetupIOPoll, SetupSQPoll, SetupSQAff, SetupCQSize, SetupClamp, SetupAttachWQ,
		SetupRDisabled, SetupSubmitAll, SetupCoopTaskrun, SetupTaskrunFlag, SetupSQE128, SetupCQE32,
		SetupSingleIssuer, SetupDeferTaskrun, SetupNoMmap, SetupRegisteredFDOnly, SetupNoSQArray, SetupHybridIOPoll}
	for i, n := range setup {
		m := "IORING_SETUP_" + n
		k = append(k, abiCheck{c: m, guard: m, got: uint64(setupVals[i])})
	}
	feats := []string{"SINGLE_MMAP", "NODROP", "SUBMIT_STABLE", "RW_CUR_POS", "CUR_PERSONALITY", "FAST_POLL",
		"POLL_32BITS", "SQPOLL_NONFIXED", "EXT_ARG", "NATIVE_WORKERS", "RSRC_TAGS", "CQE_SKIP",
		"LINKED_FILE", "REG_REG_RING", "RECVSEND_BUNDLE", "MIN_TIMEOUT", "RW_ATTR", "NO_IOWAIT"}
	for i, n := range feats {
		m := "IORING_FEAT_" + n
		k = append(k, abiCheck{c: m, guard: m, got: 1 << i})
	}
	if len(feats) != len(featureNames) || len(setup) != len(setupFlagNames) {
		panic("abiChecks: name lists out of step with flags_linux.go")
	}
	// Opcodes are an enum, not macros: check those a 6.1 header has (up to SENDMSG_ZC).
	for op := OpNop; op <= OpSendmsgZC; op++ {
		k = append(k, abiCheck{c: "IORING_OP_" + op.String(), got: uint64(op)})
	}
	return k
}

// TestABIMatchesTheUAPIHeader compiles a C program against the system's <linux/io_uring.h> and
// compares every offset, size and constant the Go side writes by hand with what the header says. The
// module stays cgo-free: the test runs gcc only if it is installed, and skips otherwise.
func TestABIMatchesTheUAPIHeader(t *testing.T) {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		t.Skip("no gcc: cannot compile against the uapi header")
	}
	if _, err := os.Stat("/usr/include/linux/io_uring.h"); err != nil {
		t.Skip("no /usr/include/linux/io_uring.h (linux-libc-dev)")
	}
	checks := abiChecks()
	var src bytes.Buffer
	src.WriteString("#include <stdio.h>\n#include <stddef.h>\n#include <linux/time_types.h>\n#include <linux/io_uring.h>\n\nint main(void) {\n")
	for i, k := range checks {
		line := fmt.Sprintf("\tprintf(\"%d %%llu\\n\", (unsigned long long)(%s));\n", i, k.c)
		if k.guard != "" {
			line = "#ifdef " + k.guard + "\n" + line + "#endif\n"
		}
		src.WriteString(line)
	}
	src.WriteString("\treturn 0;\n}\n")
	dir := t.TempDir()
	cfile, bin := filepath.Join(dir, "abi.c"), filepath.Join(dir, "abi")
	if err := os.WriteFile(cfile, src.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-std=gnu11", "-o", bin, cfile).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatalf("running the C program: %v", err)
	}
	seen := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			t.Fatalf("bad line %q", sc.Text())
		}
		i, err1 := strconv.Atoi(f[0])
		want, err2 := strconv.ParseUint(f[1], 10, 64)
		if err1 != nil || err2 != nil || i < 0 || i >= len(checks) {
			t.Fatalf("bad line %q", sc.Text())
		}
		seen++
		if k := checks[i]; k.got != want {
			t.Errorf("%s: Go has %d (%#x), the header %d (%#x)", k.c, k.got, k.got, want, want)
		}
	}
	t.Logf("%d of %d values checked against the header (the rest are newer than it)", seen, len(checks))
}

// ringTail reads the buffer ring's tail as the kernel does: the u16 at byte 14 (io_uring_buf_ring.tail),
// in the machine's byte order.
func ringTail(b *BufRing) uint16 { return *(*uint16)(unsafe.Pointer(&b.mem[bufRingTailWordOffset+2])) }

// ringBid0 reads bufs[0].bid, the u16 at byte 12, which shares the word with the tail.
func ringBid0(b *BufRing) uint16 { return *(*uint16)(unsafe.Pointer(&b.mem[bufRingTailWordOffset])) }

// TestBufRingTailWordInBothByteOrders checks the tail publication on the bytes of an io_uring_buf_ring
// laid out in either byte order: the tail (bytes 14..15) gets the new value, across the u16 wrap, and
// bufs[0].bid (bytes 12..13) keeps its own. Advance used to add n<<16 to the word, which is the tail
// only on a little-endian machine: on a big-endian one (s390x, ppc64) it added n to bufs[0].bid and
// left the tail at 0, so the kernel never saw a buffer (every recv failed with ENOBUFS) and entry 0
// named the wrong buffer.
func TestBufRingTailWordInBothByteOrders(t *testing.T) {
	for _, tc := range []struct {
		name  string
		order binary.ByteOrder
		be    bool
	}{{"little-endian", binary.LittleEndian, false}, {"big-endian", binary.BigEndian, true}} {
		for _, step := range []struct{ from, to uint16 }{{0, 16}, {65530, 4}, {65535, 0}, {7, 7}} {
			var entry [bufRingEntrySize]byte
			tc.order.PutUint16(entry[bufRingTailWordOffset:], 0xbeef)      // bufs[0].bid
			tc.order.PutUint16(entry[bufRingTailWordOffset+2:], step.from) // tail
			w := tc.order.Uint32(entry[bufRingTailWordOffset:])
			tc.order.PutUint32(entry[bufRingTailWordOffset:], withTail(w, step.to, tc.be))
			if bid, tail := tc.order.Uint16(entry[bufRingTailWordOffset:]), tc.order.Uint16(entry[bufRingTailWordOffset+2:]); bid != 0xbeef || tail != step.to {
				t.Errorf("%s, tail %d -> %d: bid %#x tail %d, want bid 0xbeef tail %d", tc.name, step.from, step.to, bid, tail, step.to)
			}
		}
	}
	// This machine's order is the one Advance uses.
	x := uint16(1)
	if native := *(*byte)(unsafe.Pointer(&x)) == 0; native != bigEndian {
		t.Fatalf("bigEndian = %v on a machine whose byte order is the other", bigEndian)
	}
}

// TestBufRingAdvanceWritesTheKernelsTail reads the tail where the kernel does (the u16 at byte 14 in
// the machine's order, not a half of a word) and bufs[0].bid beside it, after registration and after
// each Advance, and checks that the kernel takes the buffers in the order they were published, entry 0
// included.
func TestBufRingAdvanceWritesTheKernelsTail(t *testing.T) {
	r := newRing(t, 8)
	br, err := r.NewBufRing(11, 4, 16)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if tail, bid := ringTail(br), ringBid0(br); tail != 4 || bid != 0 {
		t.Fatalf("after registration: tail %d bufs[0].bid %d, want 4 and 0", tail, bid)
	}
	fd, client := tcpPair(t)
	n := 0
	recv := func() uint16 {
		t.Helper()
		b := byte('a' + n)
		n++
		if _, err := client.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
		getSQE(t, r).PrepRecvSelect(fd, br.Group(), 0)
		c := waitCQEs(t, r, 1)[0]
		id, ok := c.Buffer()
		if c.Res != 1 || !ok || br.Buffer(id)[0] != b {
			t.Fatalf("recv %d: CQE %+v, want the byte %c in a provided buffer", n, c, b)
		}
		return id
	}
	if id0, id1 := recv(), recv(); id0 != 0 || id1 != 1 {
		t.Fatalf("the first two recvs took buffers %d and %d, want 0 and 1", id0, id1)
	}
	// Buffer 1 goes back first, into entry 0 (position 4 of a ring of 4), beside the tail word.
	br.Recycle(1)
	if tail, bid := ringTail(br), ringBid0(br); tail != 5 || bid != 1 {
		t.Fatalf("after recycling buffer 1: tail %d bufs[0].bid %d, want 5 and 1", tail, bid)
	}
	br.Recycle(0)
	if tail, bid := ringTail(br), ringBid0(br); tail != 6 || bid != 1 {
		t.Fatalf("after recycling buffer 0: tail %d bufs[0].bid %d, want 6 and 1", tail, bid)
	}
	for i, want := range []uint16{2, 3, 1, 0} {
		if id := recv(); id != want {
			t.Fatalf("recv %d after the recycles took buffer %d, want %d (ring order)", i, id, want)
		}
	}
}

// TestNewBufRingRejectsASizeBeyondTheAddressSpace asks a 32-bit process for a ring whose mapping
// (4 GiB + 8 KiB) does not fit an int: it must be refused with EINVAL. NewBufRing used to convert the
// size to int unchecked, so it mapped 8 KiB, registered two buffers of 2 GiB + 2 KiB in it, and the
// kernel would have received into the memory after the mapping. (64-bit processes can map it.)
func TestNewBufRingRejectsASizeBeyondTheAddressSpace(t *testing.T) {
	if strconv.IntSize != 32 {
		t.Skip("a 64-bit int holds the size; run with GOARCH=386 to check")
	}
	r := newRing(t, 8)
	br, err := r.NewBufRing(12, 2, 1<<31+2048)
	if err == nil {
		defer br.Close()
		t.Fatalf("NewBufRing of 2 x (2 GiB + 2 KiB) in a 32-bit process: mapped %d bytes, want EINVAL", len(br.mem))
	}
	if !errors.Is(err, unix.EINVAL) {
		t.Fatalf("NewBufRing: %v, want EINVAL", err)
	}
}
