package aio

import (
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
func pwriteRefused(fd, _ int) bool {
	var b byte
	_, _, e := unix.Syscall6(unix.SYS_PWRITE64, uintptr(fd), uintptr(unsafe.Pointer(&b)), ^uintptr(0)>>1+1, 0, 0, 0)
	return e == unix.ESPIPE
}
