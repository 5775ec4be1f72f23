package uring

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Probe asks the kernel which opcodes this ring supports (IORING_REGISTER_PROBE, 5.6). It cannot tell
// whether an opcode supports a newer flag, such as multishot recv (6.0): for that, the presence of an
// opcode of the same release (OpSendZC, also 6.0) is the usual proxy. With SetupSingleIssuer it must
// be called from the ring's thread, like every registration.
func (r *Ring) Probe() (OpSet, error) {
	var p probeBuf
	if _, err := r.register(registerProbe, unsafe.Pointer(&p), uint32(len(p.ops))); err != nil {
		return OpSet{}, fmt.Errorf("uring: probe: %w", err)
	}
	var set OpSet
	for _, o := range p.ops[:min(int(p.opsLen), len(p.ops))] {
		if o.flags&opSupported != 0 {
			set.Add(Op(o.op))
		}
	}
	return set, nil
}

// requiredOps are the opcodes the uring engine needs; Available names any that are missing.
// OpSendZC stands for the 6.0 kernel that brought multishot recv, which no probe can see.
var requiredOps = []Op{
	OpNop, OpReadv, OpWritev, OpRead, OpWrite, OpPollAdd, OpPollRemove, OpSendmsg, OpSend, OpRecv,
	OpAccept, OpConnect, OpClose, OpShutdown, OpAsyncCancel, OpTimeout, OpTimeoutRemove, OpLinkTimeout,
	OpMsgRing, OpSendZC,
}

// requiredFeatures are the IORING_FEAT_* bits the uring engine needs: no dropped completions (NODROP,
// 5.5), internal poll for sockets (FAST_POLL, 5.7) and the timed wait of SubmitAndWait (EXT_ARG, 5.11).
const requiredFeatures = FeatNoDrop | FeatFastPoll | FeatExtArg

// procIOUringDisabled is the sysctl behind kernel.io_uring_disabled (6.6): 0 allowed, 1 only for
// members of kernel.io_uring_group (and CAP_SYS_ADMIN), 2 disabled for everyone.
var procIOUringDisabled = "/proc/sys/kernel/io_uring_disabled"

// Available reports whether this process can use io_uring for the engine, and if not, why: the error
// matches ErrUnavailable and wraps the cause (unix.ENOSYS, unix.EPERM, unix.ENOMEM, ...) and says what
// it most likely means (no kernel support, the io_uring_disabled sysctl, a seccomp profile of a
// container runtime, RLIMIT_MEMLOCK, missing opcodes or features). It creates and closes a small ring,
// so it costs tens of microseconds; it may be called from any goroutine. A fault set with
// SetSetupFaultForTest is reported as if io_uring_setup had failed with it.
func Available() error {
	disabled := readDisabledSysctl()
	if disabled == "2" {
		return &unavailableError{reason: "kernel.io_uring_disabled=2 turns io_uring off for every process",
			err: unix.EPERM}
	}
	r, err := New(4, WithoutSingleIssuer())
	if err != nil {
		return &unavailableError{reason: explainSetupError(err, disabled), err: err}
	}
	defer r.Close()
	if missing := requiredFeatures &^ r.Features(); missing != 0 {
		return &unavailableError{reason: fmt.Sprintf("kernel lacks io_uring features %v", missing),
			err: errors.ErrUnsupported}
	}
	ops, err := r.Probe()
	if err != nil {
		return &unavailableError{reason: "cannot probe io_uring opcodes", err: err}
	}
	if missing := ops.Missing(requiredOps...); len(missing) > 0 {
		names := make([]string, len(missing))
		for i, op := range missing {
			names[i] = op.String()
		}
		return &unavailableError{reason: "kernel lacks io_uring opcodes " + strings.Join(names, ","),
			err: errors.ErrUnsupported}
	}
	return nil
}

// readDisabledSysctl returns the value of kernel.io_uring_disabled, or "" if the kernel predates it.
func readDisabledSysctl() string {
	b, err := os.ReadFile(procIOUringDisabled)
	if err != nil {
		return ""
	}
	return string(bytes.TrimSpace(b))
}

// explainSetupError turns a setup failure into the likely reason, for the log line of the fallback.
func explainSetupError(err error, disabled string) string {
	switch {
	case errors.Is(err, unix.ENOSYS):
		return "io_uring_setup is not implemented: a kernel without CONFIG_IO_URING, or a seccomp filter"
	case errors.Is(err, unix.EPERM) && disabled == "1":
		return "kernel.io_uring_disabled=1 and this process is not in kernel.io_uring_group"
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return "io_uring_setup is not permitted: a seccomp profile (as container runtimes install) or an LSM"
	case errors.Is(err, unix.ENOMEM):
		return "cannot lock memory for a ring: RLIMIT_MEMLOCK is too low (raise ulimit -l)"
	case errors.Is(err, unix.EINVAL):
		return "the kernel rejected every setup flag combination: io_uring is too old"
	}
	return "io_uring_setup failed"
}

// recvLimit caches RecvLimitSupported's answer once a probe has given one.
var recvLimit struct {
	mu        sync.Mutex
	known, ok bool
}

// RecvLimitSupported reports whether the kernel honours SQE.SetRecvLimit (6.17). No opcode or feature
// bit tells, and kernels before it reject the field with EINVAL, so it asks: a multishot recv limited
// to 1 byte, on a socket that holds 2, must complete with both and end (no CQEFMore). It makes a small
// ring and a socket pair the first time and remembers the answer; a probe that could not run (no ring:
// io_uring unavailable, RLIMIT_MEMLOCK) answers false without being remembered. Any goroutine may call it.
func RecvLimitSupported() bool {
	recvLimit.mu.Lock()
	defer recvLimit.mu.Unlock()
	if !recvLimit.known {
		ok, err := probeRecvLimit()
		if err != nil {
			return false
		}
		recvLimit.known, recvLimit.ok = true, ok
	}
	return recvLimit.ok
}

// probeRecvLimit runs RecvLimitSupported's probe; err says it could not.
func probeRecvLimit() (bool, error) {
	r, err := New(4, WithoutSingleIssuer())
	if err != nil {
		return false, err
	}
	defer r.Close()
	b, err := r.NewBufRing(0, 1, 64)
	if err != nil {
		return false, err
	}
	defer b.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, err
	}
	defer unix.Close(fds[0])
	defer unix.Close(fds[1])
	if _, err := unix.Write(fds[1], []byte("ab")); err != nil {
		return false, err
	}
	sqe := r.GetSQE()
	sqe.PrepRecvMultishot(fds[0], b.Group(), 0)
	sqe.SetRecvLimit(1)
	// The data is there, so the recv completes when it is issued; the timeout only guards against a
	// kernel that would take the limit for something else and wait.
	if _, err := r.SubmitAndWait(1, time.Second); err != nil {
		return false, err
	}
	var c [1]CQE
	if r.Reap(c[:]) == 0 {
		return false, nil // a recv armed and waiting: the limit was not taken as one
	}
	return c[0].Res == 2 && !c[0].More(), nil
}
