//go:build !linux

package eddy

import (
	"io"
	"os"
)

// copyFileRegion copies n bytes of f from offset to w, the connection's socket, through ReadAt: package
// net's sendfile sends from the file's offset, which every duplicate of f shares, so regions of one file
// sent at once by several connections would read each other's bytes. It returns fewer than n bytes and
// no error when the file ends first, and whether an error is the file's (fileErr) rather than the socket's.
// Each write is reported to progress when it returns.
func copyFileRegion(w io.Writer, f *os.File, offset, n int64, progress func(int)) (sent int64, fileErr bool, err error) {
	return copyFileRegionRead(w, f, offset, n, progress)
}
