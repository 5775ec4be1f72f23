package uring

import (
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ring is one io_uring instance: its file descriptor, the mapped submission queue (SQ), SQE array and
// completion queue (CQ). A Ring is the poller of one event loop and is not safe for concurrent use.
//
// Thread ownership: when SetupFlags reports SetupSingleIssuer (the default where the kernel has it),
// the kernel binds the ring to the OS thread that called New, and submitting or waiting from any other
// thread fails with EEXIST (with SetupDeferTaskrun, completions are also only posted while that thread
// waits in SubmitAndWait). The owning goroutine must therefore call runtime.LockOSThread before New and
// use the ring, its BufRings and its registrations only from that goroutine until Close.
//
// A Ring must not be copied: the kernel is given the addresses of some of its fields.
type Ring struct {
	fd         int
	enterFd    int    // fd, or the registered index once RegisterRingFD succeeded
	enterFlags uint32 // enterRegisteredRing once RegisterRingFD succeeded
	regTid     int    // the thread that called RegisterRingFD, which owns the registration
	flags      SetupFlags
	features   Features
	closed     bool
	eintr      uint64        // waits interrupted by a signal and resumed, for tests
	heldWait   time.Duration // SetHeldWait
	minWait    uint32        // SetMinWait, in microseconds

	// maps holds each distinct mapping exactly once (the SQ/CQ ring is one mapping with
	// FeatSingleMmap), so Close unmaps each exactly once.
	maps [3][]byte

	sq submissionQueue
	cq completionQueue

	// The EXT_ARG wait argument lives here, in the heap-allocated Ring, because the kernel reads the
	// timespec through a uint64 address the garbage collector cannot see: it must not move.
	waitArg getEventsArg
	waitTS  Timespec

	// parked stands in for the kernel's head/tail words after Close, so a stray call on a closed Ring
	// reads zeros instead of faulting on unmapped memory.
	parked [4]uint32
}

// submissionQueue is the application's view of the SQ ring.
//
// Invariants: the application is the only writer of *tail; the kernel is the only writer of *head. The
// SQE at index sqeTail&mask may be written only while sqeTail-*head < entries. Published SQEs are made
// visible by atomic.StoreUint32(tail) after plain stores to the SQE (release); *head is read with
// atomic.LoadUint32 (acquire). Without SetupNoSQArray the index array is filled once with the identity
// (array[i] = i) at setup and never written again, so SQE i is always at slot i.
type submissionQueue struct {
	head    *uint32
	tail    *uint32
	flags   *uint32
	mask    uint32
	entries uint32
	sqes    []SQE
	sqeTail uint32 // next SQE to hand out; sqes up to here are prepared
	pubTail uint32 // last value stored to *tail
}

// completionQueue is the application's view of the CQ ring.
//
// Invariants: the kernel is the only writer of *tail and of the CQEs; the application is the only
// writer of *head. *tail is read with atomic.LoadUint32 (acquire) before any CQE below it is read;
// a CQE is copied out before *head moves past it with atomic.StoreUint32 (release), after which the
// kernel may overwrite it. head mirrors *head so the hot path never reads it back.
type completionQueue struct {
	khead    *uint32
	tail     *uint32
	overflow *uint32
	flags    *uint32 // nil before 5.8 (no CQ flags word); the application is its only writer
	mask     uint32
	entries  uint32
	cqes     []CQE
	head     uint32
}

// Option configures New.
type Option func(*config)

type config struct {
	cqEntries    uint32
	singleIssuer bool
	noSQArray    bool
	plainTaskrun bool
}

// WithCQSize asks for a completion queue of n entries (IORING_SETUP_CQSIZE) instead of the kernel's
// default of twice the SQ size. n is rounded up to a power of two and must be at least the SQ size and
// at most 65536.
func WithCQSize(n uint32) Option { return func(c *config) { c.cqEntries = n } }

// WithoutSingleIssuer does not ask for SINGLE_ISSUER and DEFER_TASKRUN, so the ring may be used from
// any thread (one at a time): only COOP_TASKRUN is tried. It is for tools and probes, not for loops.
func WithoutSingleIssuer() Option { return func(c *config) { c.singleIssuer = false } }

// WithPlainTaskrun asks for none of the task-running modes (no DEFER_TASKRUN, no COOP_TASKRUN), and
// so no SINGLE_ISSUER: a completion that finishes in task work interrupts the thread that submitted
// it to post its CQE, whatever that thread is doing. For a ring that threads use one at a time and that
// none waits in, such as package aio's, where a COOP_TASKRUN completion could wait until its
// submitting thread, asleep in the Go scheduler, next entered the kernel.
func WithPlainTaskrun() Option {
	return func(c *config) { c.singleIssuer, c.plainTaskrun = false, true }
}

// WithSQArray keeps the SQ index array (does not ask for NO_SQARRAY), as on kernels before 6.6. It
// exists so that tests cover both layouts.
func WithSQArray() Option { return func(c *config) { c.noSQArray = false } }

// setupModes lists the task-running modes New tries, best first; each is tried with NO_SQARRAY first.
// EINVAL from io_uring_setup means "unknown flag" on older kernels, so New falls back to the next; at
// most ten calls on the oldest kernels, one on current ones.
//
// DEFER_TASKRUN comes with TASKRUN_FLAG, which the kernel accepts with it since 6.1: one
// io_uring_enter that waits for nothing runs at most 20 items of deferred work (IO_LOCAL_TW_DEFAULT_MAX
// on 6.18) and keeps the rest for the next, and only the flag tells the caller that work is left
// (TaskWorkPending, SubmitAndRun). The mode without it stays as a fallback.
var setupModes = [...]SetupFlags{
	SetupSubmitAll | SetupSingleIssuer | SetupDeferTaskrun | SetupTaskrunFlag, // 6.1
	SetupSubmitAll | SetupSingleIssuer | SetupDeferTaskrun,                    // 6.1
	SetupSubmitAll | SetupSingleIssuer | SetupCoopTaskrun | SetupTaskrunFlag,  // 6.0
	SetupSubmitAll | SetupCoopTaskrun | SetupTaskrunFlag,                      // 5.19
	0, // anything older
}

// singleIssuerModes is the number of leading setupModes that use SetupSingleIssuer.
const singleIssuerModes = 3

// New sets up a ring with an SQ of entries slots (rounded up to a power of two, at most 32768) and maps
// it. It asks for the best flags the kernel accepts: SINGLE_ISSUER|DEFER_TASKRUN|TASKRUN_FLAG (else
// without TASKRUN_FLAG), else SINGLE_ISSUER|COOP_TASKRUN|TASKRUN_FLAG, else COOP_TASKRUN|TASKRUN_FLAG
// (all of these with SUBMIT_ALL), else none; each with NO_SQARRAY where available. SetupFlags reports
// what took.
//
// Unless WithoutSingleIssuer is given, the ring is bound to the calling OS thread: call
// runtime.LockOSThread before New and use the ring only from that goroutine (see Ring).
func New(entries uint32, opts ...Option) (*Ring, error) {
	cfg := config{singleIssuer: true, noSQArray: true}
	for _, o := range opts {
		o(&cfg)
	}
	if entries == 0 || entries > maxEntries {
		return nil, fmt.Errorf("uring: %d SQ entries, want 1..%d: %w", entries, maxEntries, unix.EINVAL)
	}
	if cfg.cqEntries != 0 && (cfg.cqEntries < entries || cfg.cqEntries > maxCQEntries) {
		return nil, fmt.Errorf("uring: %d CQ entries for %d SQ entries, want %d..%d: %w",
			cfg.cqEntries, entries, entries, maxCQEntries, unix.EINVAL)
	}
	fd, p, err := setup(entries, &cfg)
	if err != nil {
		return nil, err
	}
	r := &Ring{fd: fd, enterFd: fd, flags: SetupFlags(p.flags), features: Features(p.features)}
	if err := r.mapRings(&p); err != nil {
		r.unmap()
		unix.Close(fd)
		return nil, err
	}
	r.waitArg = getEventsArg{sigmaskSz: sigsetSize}
	return r, nil
}

// setup calls io_uring_setup with the best flags the kernel accepts.
func setup(entries uint32, cfg *config) (int, params, error) {
	if err := injectedSetupFault(); err != nil {
		return -1, params{}, fmt.Errorf("uring: io_uring_setup: %w", err)
	}
	var base SetupFlags
	if cfg.cqEntries != 0 {
		base |= SetupCQSize
	}
	modes := setupModes[:]
	switch {
	case cfg.plainTaskrun:
		modes = []SetupFlags{SetupSubmitAll, 0}
	case !cfg.singleIssuer:
		modes = modes[singleIssuerModes:]
	}
	var lastErr error
	for _, mode := range modes {
		for _, extra := range [2]SetupFlags{SetupNoSQArray, 0} {
			if extra != 0 && !cfg.noSQArray {
				continue
			}
			p := params{flags: uint32(base | mode | extra), cqEntries: cfg.cqEntries}
			fd, err := sysSetup(entries, &p)
			if err == 0 {
				return fd, p, nil
			}
			if err != unix.EINVAL {
				return -1, params{}, fmt.Errorf("uring: io_uring_setup(%d, %v): %w", entries, base|mode|extra, err)
			}
			lastErr = err
		}
	}
	return -1, params{}, fmt.Errorf("uring: io_uring_setup(%d): no flag combination accepted: %w", entries, lastErr)
}

// sysSetup is the raw io_uring_setup(2) call.
func sysSetup(entries uint32, p *params) (int, unix.Errno) {
	fd, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(p)), 0)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), 0
}

// mapRings maps the SQ ring, the CQ ring (the same mapping with FeatSingleMmap) and the SQE array, and
// points the queues into them.
func (r *Ring) mapRings(p *params) error {
	sqSize := int(p.sqOff.array) + int(p.sqEntries)*4
	cqSize := int(p.cqOff.cqes) + int(p.cqEntries)*cqeSize
	single := r.features&FeatSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	sqMem, err := mmapRing(r.fd, offSQRing, sqSize)
	if err != nil {
		return err
	}
	r.maps[0] = sqMem
	cqMem := sqMem
	if !single {
		if cqMem, err = mmapRing(r.fd, offCQRing, cqSize); err != nil {
			return err
		}
		r.maps[1] = cqMem
	}
	sqeMem, err := mmapRing(r.fd, offSQEs, int(p.sqEntries)*sqeSize)
	if err != nil {
		return err
	}
	r.maps[2] = sqeMem

	sq := &r.sq
	sq.head = word(sqMem, p.sqOff.head)
	sq.tail = word(sqMem, p.sqOff.tail)
	sq.flags = word(sqMem, p.sqOff.flags)
	sq.mask = *word(sqMem, p.sqOff.ringMask)
	sq.entries = *word(sqMem, p.sqOff.ringEntries)
	sq.sqes = unsafe.Slice((*SQE)(unsafe.Pointer(&sqeMem[0])), sq.entries)
	sq.sqeTail = *sq.tail
	sq.pubTail = sq.sqeTail
	if r.flags&SetupNoSQArray == 0 {
		array := unsafe.Slice(word(sqMem, p.sqOff.array), sq.entries)
		for i := range array {
			array[i] = uint32(i)
		}
	}

	cq := &r.cq
	cq.khead = word(cqMem, p.cqOff.head)
	cq.tail = word(cqMem, p.cqOff.tail)
	cq.overflow = word(cqMem, p.cqOff.overflow)
	if p.cqOff.flags != 0 {
		cq.flags = word(cqMem, p.cqOff.flags)
	}
	cq.mask = *word(cqMem, p.cqOff.ringMask)
	cq.entries = *word(cqMem, p.cqOff.ringEntries)
	cq.cqes = unsafe.Slice((*CQE)(unsafe.Pointer(&cqMem[p.cqOff.cqes])), cq.entries)
	cq.head = *cq.khead
	return nil
}

func mmapRing(fd int, offset int64, size int) ([]byte, error) {
	b, err := unix.Mmap(fd, offset, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("uring: mmap ring offset %#x size %d: %w", offset, size, err)
	}
	return b, nil
}

// word returns a pointer to the uint32 at byte offset off of a ring mapping.
func word(mem []byte, off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&mem[off])) }

// Close unmaps the rings, unregisters the ring fd if RegisterRingFD was used, and closes the ring's
// file descriptor; the kernel then cancels every operation still in flight. BufRings of this ring stay
// mapped until their own Close. A second Close returns ErrClosed.
//
// If the ring fd cannot be unregistered (Close runs on another thread than RegisterRingFD did), Close
// returns the error and leaves the ring open, to be closed from the registering thread: the
// registration holds the ring's file, so the kernel would keep the ring and its operations running
// after its fd was closed, and write into buffers (a BufRing's, closed in the belief that the ring
// was gone) that may have been unmapped and reused.
func (r *Ring) Close() error {
	if r.closed {
		return ErrClosed
	}
	var errs []error
	if r.enterFlags&enterRegisteredRing != 0 {
		// Registered ring fds belong to the registering thread and are not released when the ring
		// closes; they hold a reference to the ring's file until unregistered.
		if err := r.UnregisterRingFD(); err != nil {
			return err
		}
	}
	r.closed = true
	errs = append(errs, r.unmap())
	if err := unix.Close(r.fd); err != nil {
		errs = append(errs, os.NewSyscallError("close", err))
	}
	r.fd, r.enterFd = -1, -1
	return errors.Join(errs...)
}

// unmap unmaps every mapping once and parks the queue pointers on r.parked.
func (r *Ring) unmap() error {
	var errs []error
	for i, m := range r.maps {
		if m == nil {
			continue
		}
		r.maps[i] = nil
		if err := unix.Munmap(m); err != nil {
			errs = append(errs, os.NewSyscallError("munmap", err))
		}
	}
	r.parked = [4]uint32{}
	r.sq = submissionQueue{head: &r.parked[0], tail: &r.parked[1], flags: &r.parked[2]}
	r.cq = completionQueue{khead: &r.parked[0], tail: &r.parked[0], overflow: &r.parked[3]}
	return errors.Join(errs...)
}

// Fd returns the ring's file descriptor, for MSG_RING from another ring or for an epoll set (the ring
// fd is readable when the CQ has entries). It is -1 after Close.
func (r *Ring) Fd() int { return r.fd }

// SetupFlags returns the IORING_SETUP_* flags the ring was created with.
func (r *Ring) SetupFlags() SetupFlags { return r.flags }

// Features returns the IORING_FEAT_* bits the kernel reported.
func (r *Ring) Features() Features { return r.features }

// SQEntries returns the size of the submission queue.
func (r *Ring) SQEntries() uint32 { return r.sq.entries }

// CQEntries returns the size of the completion queue.
func (r *Ring) CQEntries() uint32 { return r.cq.entries }
