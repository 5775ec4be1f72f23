package eddy

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

// Both ways std copies a file region tell the file's failure from the socket's (fileErr), so that a file
// that cannot be read aborts the connection at once while a failed socket reads on (session 18: std took
// every error for the socket's and read on for the linger bound).
func TestStdCopyFileRegionTellsFileErrors(t *testing.T) {
	mem, err := os.Open("/proc/self/mem") // reading address 0 fails with EIO
	if err != nil {
		t.Skip(err)
	}
	defer mem.Close()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	good, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	for _, tc := range []struct {
		name string
		copy func(w io.Writer, f *os.File, offset, n int64, progress func(int)) (int64, bool, error)
	}{{"copyFileRegion", copyFileRegion}, {"copyFileRegionRead", copyFileRegionRead}} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, fileErr, err := tc.copy(c, mem, 0, 10, func(int) {}); err == nil || !fileErr {
			t.Errorf("%s of an unreadable file: error %v, fileErr %v; want an error of the file", tc.name, err, fileErr)
		}
		p, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		p.(*net.TCPConn).SetLinger(0)
		p.Close() // the peer resets the connection: the socket fails
		var fileErr bool
		err = nil
		for i := 0; err == nil && i < 100; i++ { // until the peer's reset is in
			_, fileErr, err = tc.copy(c, good, 0, 1<<20, func(int) {})
		}
		if err == nil {
			t.Fatalf("%s to a reset socket succeeded", tc.name)
		}
		if fileErr {
			t.Errorf("%s to a reset socket: %v taken for the file's error", tc.name, err)
		}
		c.Close()
		ln.Close()
	}
}
