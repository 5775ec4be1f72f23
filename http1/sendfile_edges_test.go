package http1_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestSendFileLeavesTheFileOffsetRight: after ReadFrom sends a region with the
// engine's SendFile, the file's offset is just past the region (and the LimitedReader's N less by
// it), as if it had been read, also on the std engine whose send moves the shared offset itself: a
// handler that sends a file in two copies (io.CopyN for a first part, io.Copy for the rest) sends
// the whole file, in order.
func TestSendFileLeavesTheFileOffsetRight(t *testing.T) {
	dir, blob := fileTree(t)
	path := filepath.Join(dir, "blob.bin")
	const first = 100_000
	offsets := make(chan string, 1)
	h := fileHandler(t, path, os.O_RDONLY, func(w http.ResponseWriter, r *http.Request, f *os.File) {
		setFileHead(w, len(blob))
		io.CopyN(w, f, first)
		pos, _ := f.Seek(0, io.SeekCurrent)
		io.Copy(w, f)
		offsets <- fmt.Sprintf("offset after CopyN(%d): %d", first, pos)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		off := <-offsets
		if !bytes.Equal(b, blob) {
			t.Fatalf("got %d of %d bytes (read error %v); the first %d match: %v, the rest matches the file from %d: %v; handler's %s",
				len(b), len(blob), err, first, bytes.Equal(b[:min(first, len(b))], blob[:min(first, len(b))]),
				2*first, len(b) > first && bytes.Equal(b[first:], blob[2*first:2*first+len(b)-first]), off)
		}
	})
}

// TestHalfClosedClientGetsTheWholeFile: when the client shuts down its sending
// side, the request's context is cancelled but the answer is still sent, as net/http does (doc.go):
// a file sent with SendFile in two copies arrives whole.
func TestHalfClosedClientGetsTheWholeFile(t *testing.T) {
	dir, blob := fileTree(t)
	path := filepath.Join(dir, "blob.bin")
	errs := make(chan error, 1)
	h := fileHandler(t, path, os.O_RDONLY, func(w http.ResponseWriter, r *http.Request, f *os.File) {
		<-r.Context().Done() // the client's FIN has been seen
		setFileHead(w, len(blob))
		var err1 error
		if r.URL.Path == "/two" {
			_, err1 = io.CopyN(w, f, 300_000)
		}
		_, err2 := io.Copy(w, f)
		errs <- fmt.Errorf("copy errors: %v, %v", err1, err2)
	})
	run := func(t *testing.T, addr, path string) (int, []byte, error) {
		c := dial(t, addr)
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		c.(*net.TCPConn).CloseWrite()
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, nil, err
		}
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, b, err
	}
	ref := netHTTPRef(t, h, nil)
	for _, path := range []string{"/one", "/two"} {
		if _, b, err := run(t, ref, path); err != nil || !bytes.Equal(b, blob) {
			t.Skipf("net/http does not send it whole either: %d bytes, %v", len(b), err)
		}
		<-errs
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		for _, path := range []string{"/one", "/two"} {
			status, b, err := run(t, addr, path)
			herr := <-errs
			if err != nil || status != 200 || !bytes.Equal(b, blob) {
				t.Errorf("%s: status %d, %d of %d bytes, read error %v; handler's %v (net/http sends the whole file)", path, status, len(b), len(blob), err, herr)
			}
		}
	})
}

// countFDs returns the number of open descriptors of the process.
func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

// fdsSettled waits up to 3 s for the number of open descriptors to fall to before, and returns the
// last count.
func fdsSettled(t *testing.T, before int) int {
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if after := countFDs(t); after <= before || time.Now().After(deadline) {
			return after
		}
	}
}

// TestClientGoneMidFileLeaksNoDescriptor: clients that read part of a large file and go
// away leave no descriptor behind (the engine's duplicates, uring's pipes, the handlers' files),
// and the handlers return.
func TestClientGoneMidFileLeaksNoDescriptor(t *testing.T) {
	dir := t.TempDir()
	big := make([]byte, 16<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		returned := make(chan struct{}, 16)
		fs := http.FileServer(http.Dir(dir))
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() { returned <- struct{}{} }()
			fs.ServeHTTP(w, r)
		})
		srv := &http1.Server{Handler: h}
		addr := startBare(t, engine, srv)
		// Warm up: the server's own descriptors (loops, pool) are made.
		exchange(t, addr, "GET /big.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99\r\n\r\n", "GET")
		<-returned
		before := countFDs(t)
		const clients = 6
		for i := range clients {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			buf := make([]byte, 64<<10)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, buf); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				c.(*net.TCPConn).SetLinger(0) // a reset
			}
			c.Close()
		}
		for range clients {
			select {
			case <-returned:
			case <-time.After(5 * time.Second):
				t.Fatal("a handler did not return after its client went away")
			}
		}
		if after := fdsSettled(t, before); after > before {
			t.Errorf("%d descriptors open before, %d after %d clients went away mid-file", before, after, clients)
		}
		srv.Close()
	})
}

// TestFileBeyond4GiB: a range far into a large (sparse) file goes out with the right bytes on
// every engine: the 64-bit offset reaches the engine's sendfile or splice intact.
func TestFileBeyond4GiB(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sparse.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const size = 6 << 30
	const at = 5<<30 + 12345
	mark := make([]byte, 100_000)
	for i := range mark {
		mark[i] = byte(i*31 + 1)
	}
	if err := f.Truncate(size); err != nil {
		t.Skip(err)
	}
	if _, err := f.WriteAt(mark, at); err != nil {
		t.Fatal(err)
	}
	f.Close()
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: http.FileServer(http.Dir(dir))})
		before := http1.SendFileCount()
		resp, b := getBody(t, client(t), "GET", "http://"+addr+"/sparse.bin", "Range", fmt.Sprintf("bytes=%d-%d", int64(at), int64(at)+int64(len(mark))-1))
		if resp.StatusCode != 206 || !bytes.Equal(b, mark) {
			t.Fatalf("%s, %d bytes, equal=%v", resp.Status, len(b), bytes.Equal(b, mark))
		}
		if http1.SendFileCount() == before {
			t.Errorf("the range did not go through SendFile")
		}
	})
}

// TestServeContentConditionalsAndHEAD: If-None-Match gives 304 with no body, HEAD gives the
// length without a body, and the connection stays usable for a full sendfile response after them.
func TestServeContentConditionalsAndHEAD(t *testing.T) {
	dir, blob := fileTree(t)
	path := filepath.Join(dir, "blob.bin")
	h := fileHandler(t, path, os.O_RDONLY, func(w http.ResponseWriter, r *http.Request, f *os.File) {
		w.Header().Set("ETag", `"v1"`)
		http.ServeContent(w, r, "blob.bin", time.Time{}, f)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		raw := "GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"v1\"\r\n\r\n" +
			"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET / HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"v0\"\r\nRange: bytes=1000-\r\n\r\n" +
			"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
		rs := exchange(t, addr, raw, "GET", "HEAD", "GET", "GET")
		if rs[0].status != 304 || rs[0].body != "" || rs[0].header.Get("Content-Length") != "" {
			t.Errorf("If-None-Match: %d %v %d bytes", rs[0].status, rs[0].header, len(rs[0].body))
		}
		if rs[1].status != 200 || rs[1].body != "" || rs[1].header.Get("Content-Length") != strconv.Itoa(len(blob)) {
			t.Errorf("HEAD: %d %v %d bytes", rs[1].status, rs[1].header, len(rs[1].body))
		}
		if rs[2].status != 206 || rs[2].body != string(blob[1000:]) {
			t.Errorf("range: %d, %d bytes", rs[2].status, len(rs[2].body))
		}
		if rs[3].status != 200 || rs[3].body != string(blob) || rs[3].close {
			t.Errorf("whole: %d, %d bytes, close=%v", rs[3].status, len(rs[3].body), rs[3].close)
		}
	})
}

// shrunkFile is a file whose Stat reports the size it had before it was truncated, as a file
// that shrinks between the handler's look at it and the send does.
type shrunkFile struct {
	*os.File
	size int64
}

type sizeInfo struct {
	fs.FileInfo
	size int64
}

func (i sizeInfo) Size() int64 { return i.size }

func (f shrunkFile) Stat() (fs.FileInfo, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return sizeInfo{fi, f.size}, nil
}

// TestFileThatShrinksWhileSent: when the file ends before the region being sent, the
// handler's copy fails, the client gets a short body and the connection is closed, no descriptor
// is left open, and the server still shuts down. Repeated, since the std engine once deadlocked in
// some runs only: its writer goroutine ran the region's failure callback, and the tasks queued
// behind it (http1's finish, which closes the connection), while holding the lock Close takes.
func TestFileThatShrinksWhileSent(t *testing.T) {
	dir, blob := fileTree(t)
	path := filepath.Join(dir, "blob.bin")
	const realSize = 200_000
	copyErr := make(chan error, 1)
	h := fileHandler(t, path, os.O_RDWR, func(w http.ResponseWriter, r *http.Request, f *os.File) {
		setFileHead(w, len(blob))
		f.Truncate(realSize)
		_, err := io.CopyN(w, shrunkFile{f, int64(len(blob))}, int64(len(blob)))
		copyErr <- err
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: h}
		addr := startBare(t, engine, srv)
		hung := false
		defer func() {
			if hung {
				return // Shutdown would hang too: leave the server (goleak will report it)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- srv.Shutdown(ctx) }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Shutdown: %v", err)
				}
			case <-time.After(7 * time.Second):
				t.Errorf("Shutdown did not return")
			}
		}()
		before := -1
		for i := range 30 {
			if err := os.WriteFile(path, blob, 0o644); err != nil {
				t.Fatal(err)
			}
			if i == 1 {
				before = countFDs(t)
			}
			c := dial(t, addr)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				hung = true
				t.Fatalf("request %d: the connection was still open 3 s after a short body of %d bytes (the server is stuck)", i, len(b))
			}
			if err == nil || len(b) > realSize {
				t.Fatalf("request %d: read %d bytes, %v; want a short body and an error", i, len(b), err)
			}
			select {
			case err := <-copyErr:
				if err == nil {
					t.Fatal("the handler's copy succeeded")
				}
			case <-time.After(3 * time.Second):
				hung = true
				t.Fatal("the handler's copy did not return")
			}
			c.Close()
		}
		if after := fdsSettled(t, before); after > before {
			t.Errorf("%d descriptors before, %d after", before, after)
		}
	})
}
