package eddy

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// Both ways std copies a file region (sendfile at an explicit offset on Linux, ReadAt elsewhere and as
// the fallback) send the region's bytes, stop short without an error at the end of the file, and leave
// the file's offset where it was.
func TestStdCopyFileRegion(t *testing.T) {
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = byte(i * 7)
	}
	path := filepath.Join(t.TempDir(), "region")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Seek(12345, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		copy func(io.Writer, *os.File, int64, int64, func(int)) (int64, bool, error)
	}{{"copyFileRegion", copyFileRegion}, {"copyFileRegionRead", copyFileRegionRead}} {
		for _, r := range []struct{ off, n, want int64 }{{0, 100, 100}, {1000, 300 << 10, 300 << 10}, {1<<20 - 10, 100, 10}} {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan []byte, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					got <- nil
					return
				}
				b, _ := io.ReadAll(c)
				c.Close()
				got <- b
			}()
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			reported := 0
			n, _, err := tc.copy(c, f, r.off, r.n, func(k int) { reported += k })
			c.Close()
			b := <-got
			ln.Close()
			if reported != int(n) {
				t.Errorf("%s(%d, %d): %d bytes sent, %d reported to progress", tc.name, r.off, r.n, n, reported)
			}
			if err != nil || n != r.want || !bytes.Equal(b, data[r.off:r.off+r.want]) {
				t.Errorf("%s(%d, %d): %d bytes sent (%v), %d received; want %d, equal to the file's", tc.name, r.off, r.n, n, err, len(b), r.want)
			}
			if pos, _ := f.Seek(0, io.SeekCurrent); pos != 12345 {
				t.Errorf("%s moved the file offset to %d", tc.name, pos)
			}
		}
	}
}
