package uring

// SpliceNoOffset, as the offset of a pipe or a socket in PrepSplice, means "no offset" (the kernel's -1).
const SpliceNoOffset int64 = -1

// PrepSplice prepares a splice(2) of up to n bytes from fdIn at offIn to fdOut at offOut; one of the two
// must be a pipe, and a pipe or a socket takes SpliceNoOffset. flags are SPLICE_F_* flags. Res is the
// number of bytes moved, short when the source ran dry (which breaks a link) or the destination filled.
// The kernel runs it on an io-wq worker; with a non-blocking destination that has no room it completes
// with EAGAIN rather than waiting.
func (s *SQE) PrepSplice(fdIn int, offIn int64, fdOut int, offOut int64, n int, flags uint32) {
	s.prepRW(OpSplice, fdOut, uint64(offIn), lenOf(n), uint64(offOut))
	s.FileIndex = uint32(fdIn)
	s.OpFlags = flags
}
