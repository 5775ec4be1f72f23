package aio

import (
	"math"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pwriteRefused reports whether pwrite(2) on fd fails with ESPIPE: the file has no positioned
// writes (FMODE_PWRITE), whatever its access mode. The probe writes nothing on any file: the kernel
// looks at FMODE_PWRITE first (ksys_pwrite64: ESPIPE), then, in vfs_write, at the access mode
// (EBADF, EINVAL), then refuses a count with the sign bit set (access_ok: EFAULT, or
// rw_verify_area: EINVAL where access_ok does not look), all before the file's write is called. A
// pwrite(2) of nothing would call it (with 0 bytes) on a writable file. The offset is 0 however
// the architecture splits it, as every argument after the count is 0.
//
// A 32-bit program cannot send such a count to a 64-bit kernel (GOARCH=386 on amd64, arm on
// arm64): the compat entry zero-extends it, and 0x80000000 is a valid 2 GiB there, which wrote
// the memory after the probe's byte over the file from offset 0. It asks for 1 byte at offset
// math.MaxInt64 instead: rw_verify_area refuses an end past math.MaxInt64 (EINVAL), again before
// the file's write, on a 32-bit and a 64-bit kernel alike.
func pwriteRefused(fd, _ int) bool {
	if unsafe.Sizeof(uintptr(0)) == 4 {
		return pwriteRefusedAtEnd(fd)
	}
	var b byte
	_, _, e := unix.Syscall6(unix.SYS_PWRITE64, uintptr(fd), uintptr(unsafe.Pointer(&b)), ^uintptr(0)>>1+1, 0, 0, 0)
	return e == unix.ESPIPE
}

// pwriteRefusedAtEnd is pwriteRefused's probe for a 32-bit program: 1 byte at offset
// math.MaxInt64, which unix.Pwrite splits as the architecture wants. Only a file with unsigned
// offsets (FMODE_UNSIGNED_OFFSET: /dev/mem, /proc/<pid>/mem) gets past rw_verify_area, and
// nothing is mapped at that address for it to write to.
func pwriteRefusedAtEnd(fd int) bool {
	var b [1]byte
	_, err := unix.Pwrite(fd, b[:], math.MaxInt64)
	return err == unix.ESPIPE
}
