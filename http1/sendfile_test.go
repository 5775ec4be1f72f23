package http1_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// get fetches url with optional header pairs and returns the response and its body.
func getBody(t *testing.T, cl *http.Client, method, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// fileHandler returns a handler that opens path with flag for each request (a failure is reported
// on t) and calls serve with the file, which it closes after.
func fileHandler(t *testing.T, path string, flag int, serve func(w http.ResponseWriter, r *http.Request, f *os.File)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, err := os.OpenFile(path, flag, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		serve(w, r, f)
	}
}

// setFileHead sets the headers of a response that sends a file of size bytes whole.
func setFileHead(w http.ResponseWriter, size int) {
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(size))
}

func TestFileServerSendsRangesWithSendFile(t *testing.T) {
	dir, blob := fileTree(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: http.FileServer(http.Dir(dir))})
		cl := client(t)
		url := "http://" + addr + "/blob.bin"
		cases := []struct {
			rng      string
			status   int
			want     []byte
			sendfile bool
		}{
			{"", 200, blob, true},
			{"bytes=100000-299999", 206, blob[100000:300000], true},
			{"bytes=-65536", 206, blob[len(blob)-65536:], true},
			{"bytes=1048000-", 206, blob[1048000:], false}, // 576 bytes: copied with the head
			{"bytes=10-19", 206, blob[10:20], false},
		}
		for _, tc := range cases {
			before := http1.SendFileCount()
			var hdr []string
			if tc.rng != "" {
				hdr = []string{"Range", tc.rng}
			}
			resp, b := getBody(t, cl, "GET", url, hdr...)
			if resp.StatusCode != tc.status || !bytes.Equal(b, tc.want) {
				t.Fatalf("Range %q: %s, %d bytes, want %d %d bytes", tc.rng, resp.Status, len(b), tc.status, len(tc.want))
			}
			if used := http1.SendFileCount() > before; used != tc.sendfile {
				t.Errorf("Range %q: sendfile used = %v, want %v", tc.rng, used, tc.sendfile)
			}
		}
		// The connection stays usable after a sendfile response: several on one keep-alive connection.
		for i := 0; i < 3; i++ {
			if resp, b := getBody(t, cl, "GET", url, "Range", "bytes=0-99999"); resp.StatusCode != 206 || !bytes.Equal(b, blob[:100000]) {
				t.Fatalf("repeat %d: %s, %d bytes", i, resp.Status, len(b))
			}
		}
		before := http1.SendFileCount()
		resp, b := getBody(t, cl, "HEAD", url)
		if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len(blob)) || http1.SendFileCount() != before {
			t.Fatalf("HEAD: %s, %d bytes, length %d", resp.Status, len(b), resp.ContentLength)
		}
	})
}

func TestReadFromFileWithoutContentLengthIsChunked(t *testing.T) {
	dir, blob := fileTree(t)
	path := filepath.Join(dir, "blob.bin")
	h := fileHandler(t, path, os.O_RDONLY, func(w http.ResponseWriter, r *http.Request, f *os.File) {
		if r.URL.Query().Get("length") != "" {
			w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
		}
		io.Copy(w, f) // ReadFrom with the *os.File itself
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		cl := client(t)
		before := http1.SendFileCount()
		resp, b := getBody(t, cl, "GET", "http://"+addr+"/")
		if !bytes.Equal(b, blob) || len(resp.TransferEncoding) == 0 || http1.SendFileCount() != before {
			t.Fatalf("no length: %d bytes, transfer encoding %v, sendfile %d", len(b), resp.TransferEncoding, http1.SendFileCount()-before)
		}
		resp, b = getBody(t, cl, "GET", "http://"+addr+"/?length=1")
		if !bytes.Equal(b, blob) || resp.ContentLength != int64(len(blob)) || http1.SendFileCount() != before+1 {
			t.Fatalf("with length: %d bytes, length %d, sendfile %d", len(b), resp.ContentLength, http1.SendFileCount()-before)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/octet-stream") {
			t.Fatalf("sniffed Content-Type %q", ct)
		}
	})
}

func TestPipelinedFileResponsesStayInOrder(t *testing.T) {
	dir, blob := fileTree(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: http.FileServer(http.Dir(dir))})
		before := http1.SendFileCount()
		raw := "GET /blob.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=0-99999\r\n\r\n" +
			"GET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n" +
			"GET /blob.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=500000-\r\n\r\n" +
			"GET /blob.bin HTTP/1.1\r\nHost: x\r\n\r\n"
		rs := exchange(t, addr, raw, "GET", "GET", "GET", "GET")
		want := []string{string(blob[:100000]), "hello, file\n", string(blob[500000:]), string(blob)}
		for i, r := range rs {
			if r.body != want[i] {
				t.Fatalf("response %d: %d %d bytes, want %d", i, r.status, len(r.body), len(want[i]))
			}
		}
		if n := http1.SendFileCount() - before; n != 3 {
			t.Fatalf("%d responses used sendfile, want 3", n)
		}
	})
}
