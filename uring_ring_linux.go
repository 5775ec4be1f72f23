package eddy

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/uring"
)

// The loop's ring and provided-buffer ring: their sizes, their setup on the loop's thread, and the
// accounting of receive buffers between the kernel and the loop.

// Ring and buffer sizing (see docs/uring-engine.md for the reasoning).
const (
	// urSQEntries is the submission queue size. A full SQ is not an error: getSQE submits and retries.
	urSQEntries = 1024
	// urCQEntries is the completion queue size: room for a recv, a send and a cancel per connection of a
	// busy iteration before the kernel has to keep completions in its overflow backlog.
	urCQEntries = 8192
	// urRecvRingBytes is the receive buffer memory of one loop's buffer ring. It is virtual memory until
	// traffic touches it; it bounds how many bytes one io_uring_enter can receive across all connections
	// before the ring runs dry (ENOBUFS ends the receives that find it empty, and they are re-armed).
	urRecvRingBytes = 8 << 20
	// urRecvBufMaxInc caps the size of one buffer of an incremental ring (6.12), where receives share
	// buffers: a buffer is WithReadBufferSize bytes (the most a single receive takes) up to this cap.
	urRecvBufMaxInc = 1 << 20
	// urRecvBufMaxPlain caps the size of one buffer of a plain ring (before 6.12), where every receive
	// takes a whole buffer however few bytes it brings: smaller buffers, more of them.
	urRecvBufMaxPlain = 16 << 10
	// urRecvGroup is the buffer group id; groups are per ring, so every loop uses the same one.
	urRecvGroup = 0
	// urCQEBatch is how many CQEs are copied out of the ring at a time.
	urCQEBatch = 512
)

// urSizes are the ring sizes the loops are created with: SQ and CQ entries, the number of receive buffers
// (0: from urRecvRingBytes) and whether to try an incremental buffer ring. Tests change them to drive the
// full-SQ, CQ-overflow and ENOBUFS paths and the plain-ring fallback; nothing else does.
var urSizes = struct {
	sq, cq, bufs uint32
	incremental  bool
}{urSQEntries, urCQEntries, 0, true}

// urBufShape returns the size and count of receive buffers for a ring, incremental or not: buffers of
// readBufSize bytes up to the mode's cap, as many as fit in urRecvRingBytes (a power of two, 8..32768).
func urBufShape(readBufSize int, incremental bool) (size, entries uint32) {
	limit := urRecvBufMaxPlain
	if incremental {
		limit = urRecvBufMaxInc
	}
	size = uint32(min(readBufSize, limit))
	entries = 8
	for entries < 32768 && uint64(entries)*2*uint64(size) <= urRecvRingBytes {
		entries *= 2
	}
	if urSizes.bufs != 0 {
		entries = urSizes.bufs
	}
	return size, entries
}

// urStats counts the loop's rare events, for tests and the design note's measurements. Only the loop
// writes them; read them after the loop has exited.
type urStats struct {
	sqFull      int // getSQE found the SQ full and submitted early
	recvENOBUFS int // a multishot recv ended because the buffer ring ran dry
	recvRearm   int // a multishot recv ended for any reason but EOF, cancel or error and was re-armed
	acceptRearm int // a multishot accept ended and was re-armed at once
	spliced     int // SendFile bytes spliced from a pipe to a socket
	spliceWaits int // a splice to a socket found no room and polled for it
}

// setup creates the ring and the buffer ring. It runs on the loop's locked thread.
func (l *urLoop) setup() error {
	r, err := uring.New(urSizes.sq, uring.WithCQSize(urSizes.cq))
	// Ring memory is charged to a non-root user's RLIMIT_MEMLOCK and released asynchronously after a
	// ring closes, so an engine started right after another stopped may see a passing ENOMEM.
	for wait := time.Millisecond; errors.Is(err, unix.ENOMEM) && wait <= 64*time.Millisecond; wait *= 2 {
		time.Sleep(wait)
		r, err = uring.New(urSizes.sq, uring.WithCQSize(urSizes.cq))
	}
	if err != nil {
		return uringUnavailable(err)
	}
	if err := r.RegisterRingFD(); err != nil { // an optimisation only: each enter skips an fd lookup
		l.logger().Debug("eddy: io_uring ring fd not registered", "loop", l.idx, "err", err)
	}
	var b *uring.BufRing
	if urSizes.incremental {
		size, n := urBufShape(l.g.e.opts.readBufSize, true)
		if b, err = r.NewBufRing(urRecvGroup, n, size, uring.WithIncremental()); err == nil {
			l.bufOff = make([]uint32, n)
		} else if !errors.Is(err, unix.EINVAL) {
			r.Close()
			return opError("io_uring_register", "", nil, "", err)
		}
	}
	if b == nil { // before 6.12: a plain ring
		size, n := urBufShape(l.g.e.opts.readBufSize, false)
		if b, err = r.NewBufRing(urRecvGroup, n, size); err != nil {
			r.Close()
			return opError("io_uring_register", "", nil, "", err)
		}
	}
	l.ring, l.bufs = r, b
	return nil
}

// recvData returns the bytes a recv CQE delivered, in the provided buffer the kernel chose, or nil. In an
// incremental ring they start where the previous CQE for the same buffer ended.
func (l *urLoop) recvData(cqe *uring.CQE) []byte {
	id, ok := cqe.Buffer()
	if !ok || cqe.Res <= 0 {
		return nil
	}
	var off uint32
	if l.bufOff != nil {
		off = l.bufOff[id]
	}
	return l.bufs.Buffer(id)[off : off+uint32(cqe.Res)]
}

// doneWithBuffer accounts for a recv CQE's buffer once its data has been handled (every CQE that carries
// one, whoever it is for): a buffer the kernel keeps filling (F_BUF_MORE, incremental rings) only moves
// its offset; any other goes back to the kernel at the next Advance.
func (l *urLoop) doneWithBuffer(cqe *uring.CQE) {
	id, ok := cqe.Buffer()
	if !ok {
		return
	}
	if cqe.BufMore() {
		l.bufOff[id] += uint32(max(cqe.Res, 0))
		return
	}
	if l.bufOff != nil {
		l.bufOff[id] = 0
	}
	l.bufs.Add(id)
}
