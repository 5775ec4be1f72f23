package eddy

import (
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// copyFileRegion copies n bytes of f from offset to w, the connection's socket, with sendfile(2) at an
// explicit offset: the file's own offset, which every duplicate of f shares, is neither used nor moved,
// so that regions of one file sent at once by several connections cannot read each other's bytes (the
// package net path, io.Copy from an io.LimitedReader, sends from the file's offset). The wait for room in
// the socket is the runtime poller's (RawConn.Write), so the socket's write deadline applies. A file
// system without sendfile for f falls back to copying through ReadAt. Each part the socket takes is
// reported to progress as it takes it. It returns fewer than n bytes and no error when the file ends
// first; fileErr reports that err is the file's (sendfileFileError), not the socket's.
func copyFileRegion(w io.Writer, f *os.File, offset, n int64, progress func(int)) (sent int64, fileErr bool, err error) {
	sc, ok := w.(syscall.Conn)
	if !ok {
		return copyFileRegionRead(w, f, offset, n, progress)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false, err
	}
	fc, err := f.SyscallConn()
	if err != nil {
		return 0, true, err
	}
	var serr error
	unsupported := false
	cerr := fc.Control(func(in uintptr) {
		werr := rc.Write(func(out uintptr) bool {
			for sent < n {
				off := offset + sent
				k, err := syscall.Sendfile(int(out), int(in), &off, int(min(n-sent, 1<<30))) // syscall's: see raceio
				if k > 0 {
					sent += int64(k)
					progress(k)
				}
				switch {
				case err == unix.EAGAIN:
					return false // wait for room
				case err == unix.EINTR:
				case err == unix.EOVERFLOW:
					// The offset is past the largest file the file system can hold, so past the end
					// of this one: the file ended, as for the other engines' splice and pread.
					return true
				case err != nil:
					if sent == 0 && zeroCopyUnsupported(err) {
						unsupported = true
					} else {
						serr, fileErr = os.NewSyscallError("sendfile", err), sendfileFileError(err)
					}
					return true
				case k == 0:
					return true // the file ended
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if cerr != nil {
		return sent, true, cerr // f is closed
	}
	if unsupported {
		return copyFileRegionRead(w, f, offset, n, progress)
	}
	return sent, fileErr, serr
}
