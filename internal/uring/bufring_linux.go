package uring

import (
	"fmt"
	"math"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// BufRing is a provided-buffer ring (IORING_REGISTER_PBUF_RING, 5.19): a group of equally sized
// buffers the kernel picks from for receives prepared with PrepRecvMultishot or PrepRecvSelect. Its
// ring and its buffers are one anonymous mmap, outside the Go heap, so the garbage collector never
// moves or frees memory the kernel writes into.
//
// Ownership: at first every buffer belongs to the kernel (with WithPosted, only the first n). A CQE with
// CQEFBuffer hands buffer id to the application, which reads it through Buffer and gives it back with
// Recycle (or Add then Advance). Recycling a buffer the application does not own corrupts the ring. The
// application may give back any buffer it owns, in any order, which lets it keep only a few buffers
// posted and reuse the same memory (Discard drops the pages of one it keeps). Like its Ring, a BufRing is
// used from the ring's goroutine only.
type BufRing struct {
	ring    *Ring
	group   uint16
	entries uint32 // a power of two
	mask    uint32
	size    uint32 // bytes per buffer
	mem     []byte // the whole mapping: entries*16 bytes of ring, page-aligned buffers after it
	bufs    []byte // entries*size bytes of buffer memory inside mem
	base    uint64 // address of bufs[0], for the ring entries
	// tailWord is the uint32 at byte 12 of the ring: bufs[0].bid (bytes 12..13) and the ring's u16
	// tail (bytes 14..15, overlaid on bufs[0].resv). sync/atomic has no 16-bit store, so Advance
	// publishes the tail with an atomic store of the whole word, bid kept as it is (withTail): the
	// application is the only writer of both halves, so the word it read is the word in memory.
	// Which half of the word holds the tail depends on the byte order (the high half on little-endian
	// machines, the low half on big-endian ones). Entry 0 is written field by field, never bytes 14..15.
	tailWord *uint32
	tail     uint16 // the tail as last published
	staged   uint16 // entries written by Add since the last Advance
	inc      bool   // registered with IOU_PBUF_RING_INC
	closed   bool
}

// BufRingOption configures NewBufRing.
type BufRingOption func(*bufRingConfig)

type bufRingConfig struct {
	incremental bool
	posted      uint32
	postedSet   bool
}

// WithIncremental registers the ring for incremental consumption (IOU_PBUF_RING_INC, 6.12): a receive
// takes only the bytes it needs from the buffer at the head of the ring, and the next receive continues
// in the same buffer after them, so that many small messages share one buffer instead of taking a
// whole buffer each. A CQE's data then starts at the buffer's offset, which the application tracks: the
// first CQE for a buffer starts at 0, and each CQE with CQEFBufMore means the buffer is not used up, so
// the next CQE naming it starts where this one's Res ended. A CQE for the buffer without CQEFBufMore is
// its last (the kernel moved on); only then does the buffer go back with Recycle. Kernels before 6.12
// reject the flag with EINVAL, so fall back to a plain ring on that error.
func WithIncremental() BufRingOption { return func(c *bufRingConfig) { c.incremental = true } }

// WithPosted gives only buffers 0..n-1 to the kernel at registration; the application owns the others
// and posts them with Add and Advance when it wants to. Buffer memory is virtual until it is written, so
// a ring that keeps few buffers posted and reposts the ones it got back keeps few pages resident, where
// posting all of them makes the kernel cycle through, and touch, the whole ring.
func WithPosted(n uint32) BufRingOption {
	return func(c *bufRingConfig) { c.posted, c.postedSet = n, true }
}

// NewBufRing maps entries buffers of size bytes each (entries a power of two, at most 32768), registers
// them with the kernel as buffer group group, and gives them all to the kernel. The memory is charged
// to RLIMIT_MEMLOCK for non-root users.
func (r *Ring) NewBufRing(group uint16, entries, size uint32, opts ...BufRingOption) (*BufRing, error) {
	var cfg bufRingConfig
	for _, o := range opts {
		o(&cfg)
	}
	if r.closed {
		return nil, ErrClosed
	}
	if entries == 0 || entries > maxBufRingEntries || entries&(entries-1) != 0 {
		return nil, fmt.Errorf("uring: buffer ring of %d entries, want a power of two up to %d: %w",
			entries, maxBufRingEntries, unix.EINVAL)
	}
	if size == 0 {
		return nil, fmt.Errorf("uring: buffer ring with buffers of 0 bytes: %w", unix.EINVAL)
	}
	page := uint64(os.Getpagesize())
	ringBytes := roundUp(uint64(entries)*bufRingEntrySize, page)
	total := ringBytes + roundUp(uint64(entries)*uint64(size), page)
	// The mapping's size is an int: in a 32-bit process a larger size would wrap to a small mapping
	// whose buffers the kernel would be told extend far past it.
	if total > 1<<40 || total > math.MaxInt {
		return nil, fmt.Errorf("uring: buffer ring of %d x %d bytes is too large: %w", entries, size, unix.EINVAL)
	}
	// The kernel requires the ring to be page-aligned; mmap memory is.
	mem, err := unix.Mmap(-1, 0, int(total), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("uring: mmap buffer ring: %w", err)
	}
	b := &BufRing{
		ring:     r,
		group:    group,
		entries:  entries,
		mask:     entries - 1,
		size:     size,
		mem:      mem,
		bufs:     mem[ringBytes:],
		tailWord: (*uint32)(unsafe.Pointer(&mem[bufRingTailWordOffset])),
		inc:      cfg.incremental,
	}
	b.base = uint64(uintptr(unsafe.Pointer(&b.bufs[0])))
	reg := bufReg{ringAddr: uint64(uintptr(unsafe.Pointer(&mem[0]))), ringEntries: entries, bgid: group}
	if cfg.incremental {
		reg.flags = pbufRingInc
	}
	if _, err := r.register(registerPbufRing, unsafe.Pointer(&reg), 1); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("uring: register buffer ring group %d: %w", group, err)
	}
	posted := entries
	if cfg.postedSet {
		posted = min(cfg.posted, entries)
	}
	for id := uint32(0); id < posted; id++ {
		b.Add(uint16(id))
	}
	b.Advance()
	return b, nil
}

func roundUp(n, to uint64) uint64 { return (n + to - 1) / to * to }

// Group returns the buffer group id, for PrepRecvMultishot and PrepRecvSelect.
func (b *BufRing) Group() uint16 { return b.group }

// Entries returns the number of buffers.
func (b *BufRing) Entries() uint32 { return b.entries }

// BufferSize returns the size of each buffer.
func (b *BufRing) BufferSize() uint32 { return b.size }

// Incremental reports whether the ring was registered for incremental consumption (WithIncremental).
func (b *BufRing) Incremental() bool { return b.inc }

// Buffer returns the full buffer id (BufferSize bytes); a CQE's Res says how many of them were filled.
// The slice aliases mmap'd memory: it is valid while the application owns the buffer, that is from the
// CQE that handed it over until Recycle, and must not be used or retained after that.
func (b *BufRing) Buffer(id uint16) []byte {
	off := uint64(id) * uint64(b.size)
	return b.bufs[off : off+uint64(b.size) : off+uint64(b.size)]
}

// Add writes buffer id into the next free ring entry without publishing it; Advance publishes every
// buffer added since the last Advance. After Close it does nothing. Adding more buffers than the ring holds between two Advance
// calls is a bug and panics.
func (b *BufRing) Add(id uint16) {
	if b.closed {
		return
	}
	if uint32(b.staged) >= b.entries || uint32(id) >= b.entries {
		panic(fmt.Sprintf("uring: BufRing.Add(%d): %d buffers already staged in a ring of %d", id, b.staged, b.entries))
	}
	e := unsafe.Pointer(&b.mem[(uint32(b.tail+b.staged)&b.mask)*bufRingEntrySize])
	// Field by field: in entry 0, bytes 14..15 are the ring tail (see tailWord).
	*(*uint64)(e) = b.base + uint64(id)*uint64(b.size)
	*(*uint32)(unsafe.Add(e, 8)) = b.size
	*(*uint16)(unsafe.Add(e, 12)) = id
	b.staged++
}

// Advance publishes the buffers added since the last Advance to the kernel.
func (b *BufRing) Advance() {
	if b.staged == 0 || b.closed {
		return
	}
	b.tail += b.staged
	b.staged = 0
	// Release: the entries written by Add are visible before the kernel sees the new tail.
	atomic.StoreUint32(b.tailWord, withTail(atomic.LoadUint32(b.tailWord), b.tail, bigEndian))
}

// withTail returns the ring's word at byte 12 (tailWord), w, with the u16 tail at byte 14 set to tail
// and bufs[0].bid at byte 12 kept: the tail is the high half of the word on a little-endian machine
// and the low half on a big-endian one (be).
func withTail(w uint32, tail uint16, be bool) uint32 {
	if be {
		return w&0xffff0000 | uint32(tail)
	}
	return w&0x0000ffff | uint32(tail)<<16
}

// Published returns the id of the buffer in the k-th most recently published ring entry (k = 0: the
// last one Advance published). The kernel takes buffers in ring order, so of the n buffers it still
// holds, Published(0) to Published(n-1) are the ones it will take last to first. k must be less than
// the ring's entries.
func (b *BufRing) Published(k int) uint16 {
	e := unsafe.Pointer(&b.mem[(uint32(b.tail-uint16(k)-1)&b.mask)*bufRingEntrySize])
	return *(*uint16)(unsafe.Add(e, 12))
}

// Recycle gives buffer id back to the kernel at once: Add then Advance. To recycle many buffers after
// one batch of CQEs, Add each and Advance once.
func (b *BufRing) Recycle(id uint16) {
	b.Add(id)
	b.Advance()
}

// Discard drops the pages of buffer id (MADV_DONTNEED), so that they no longer count in the process's
// resident memory until the buffer is next written (the kernel then supplies zeroed pages). Only the
// pages that lie wholly inside the buffer are dropped: a page shared with a neighbour may hold the
// neighbour's data. Discard a buffer the application owns, or a posted one only when the kernel
// cannot be writing into it (the engine's loop knows when: see urLoop.discardPosted in package
// eddy); otherwise the kernel's data could be lost.
func (b *BufRing) Discard(id uint16) error {
	if b.closed {
		return ErrClosed
	}
	page := uint64(os.Getpagesize())
	off := uint64(id) * uint64(b.size)
	start, end := roundUp(off, page), (off+uint64(b.size))/page*page
	if start >= end {
		return nil
	}
	if err := unix.Madvise(b.bufs[start:end], unix.MADV_DONTNEED); err != nil {
		return os.NewSyscallError("madvise", err)
	}
	return nil
}

// Close unregisters the buffer group, if the ring is still open, and unmaps the ring and its buffers.
// Call it only when no operation can still pick from the group: after the ring is closed, or after
// every receive using the group has posted its final CQE (cancel multishot receives first). Otherwise
// the kernel could write into a buffer after its memory was unmapped and reused. A second Close returns
// ErrClosed.
//
// If the group cannot be unregistered (with SetupSingleIssuer, Close called on another thread than the
// ring's), Close returns the error and leaves the BufRing open and mapped, to be closed again from the
// ring's thread or after the ring's Close: the kernel still picks buffers from the group, and would
// write into the memory once unmapped and reused.
func (b *BufRing) Close() error {
	if b.closed {
		return ErrClosed
	}
	if !b.ring.closed {
		reg := bufReg{bgid: b.group}
		if _, err := b.ring.register(unregisterPbufRing, unsafe.Pointer(&reg), 1); err != nil {
			return fmt.Errorf("uring: unregister buffer ring group %d: %w", b.group, err)
		}
	}
	b.closed = true
	var err error
	if e := unix.Munmap(b.mem); e != nil {
		err = os.NewSyscallError("munmap", e)
	}
	b.mem, b.bufs, b.tailWord = nil, nil, nil
	return err
}
