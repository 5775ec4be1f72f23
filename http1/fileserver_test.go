package http1_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// fileTree writes a directory with a small text file and a 1 MiB binary file and returns it with
// the binary file's content.
func fileTree(t *testing.T) (dir string, blob []byte) {
	dir = t.TempDir()
	blob = make([]byte, 1<<20)
	rand.Read(blob)
	if err := os.WriteFile(filepath.Join(dir, "blob.bin"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello, file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, blob
}

func TestFileServerWithRanges(t *testing.T) {
	dir, blob := fileTree(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: http.FileServer(http.Dir(dir))})
		cl := client(t)
		get := func(path string, header ...string) (*http.Response, []byte) {
			t.Helper()
			req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
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

		resp, b := get("/blob.bin")
		if resp.StatusCode != 200 || !bytes.Equal(b, blob) || resp.ContentLength != int64(len(blob)) {
			t.Fatalf("whole file: %s, %d bytes (length %d)", resp.Status, len(b), resp.ContentLength)
		}
		resp, b = get("/blob.bin", "Range", "bytes=1000-1999")
		if resp.StatusCode != 206 || !bytes.Equal(b, blob[1000:2000]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 1000-1999/%d", len(blob)) {
			t.Fatalf("range: %s %v, %d bytes", resp.Status, resp.Header, len(b))
		}
		resp, b = get("/blob.bin", "Range", "bytes=-10")
		if resp.StatusCode != 206 || !bytes.Equal(b, blob[len(blob)-10:]) {
			t.Fatalf("suffix range: %s, %d bytes", resp.Status, len(b))
		}
		resp, b = get("/blob.bin", "Range", "bytes=0-9,100-109")
		_, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		mr := multipart.NewReader(bytes.NewReader(b), params["boundary"])
		var parts [][]byte
		for {
			p, err := mr.NextPart()
			if err != nil {
				break
			}
			pb, _ := io.ReadAll(p)
			parts = append(parts, pb)
		}
		if resp.StatusCode != 206 || len(parts) != 2 || !bytes.Equal(parts[0], blob[:10]) || !bytes.Equal(parts[1], blob[100:110]) {
			t.Fatalf("multi-range: %s, %d parts", resp.Status, len(parts))
		}
		resp, _ = get("/blob.bin", "Range", "bytes=2000000-")
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("unsatisfiable range: %s", resp.Status)
		}
		resp, b = get("/hello.txt")
		lastMod := resp.Header.Get("Last-Modified")
		if resp.StatusCode != 200 || string(b) != "hello, file\n" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("text file: %s %v %q", resp.Status, resp.Header, b)
		}
		resp, b = get("/hello.txt", "If-Modified-Since", lastMod)
		if resp.StatusCode != 304 || len(b) != 0 {
			t.Fatalf("conditional GET: %s, %d bytes", resp.Status, len(b))
		}
		resp, b = get("/")
		if resp.StatusCode != 200 || !strings.Contains(string(b), "hello.txt") {
			t.Fatalf("directory listing: %s %q", resp.Status, b)
		}
		head, _ := http.NewRequest("HEAD", "http://"+addr+"/blob.bin", nil)
		hr, err := cl.Do(head)
		if err != nil {
			t.Fatal(err)
		}
		hr.Body.Close()
		if hr.StatusCode != 200 || hr.Header.Get("Content-Length") != strconv.Itoa(len(blob)) {
			t.Fatalf("HEAD: %s %v", hr.Status, hr.Header)
		}
	})
}

// TestCurl checks the server against curl, a client written independently of Go's. CI must
// install curl (Debian package curl); without it the test is skipped.
func TestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed: install the Debian package curl (apt-get install -y curl) to run this test")
	}
	dir, blob := fileTree(t)
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files/", http.FileServer(http.Dir(dir))))
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d %s", r.Method, len(b), r.Header.Get("Expect"))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, style := range styles {
			t.Run(style, func(t *testing.T) {
				srv := &http1.Server{Handler: mux}
				if style == "native" {
					srv = &http1.Server{Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
						fmt.Fprintf(w, "%s %d %s", r.Method, len(r.Body), r.Get("Expect"))
					})}
				}
				addr := start(t, engine, srv)
				run := func(args ...string) string {
					t.Helper()
					out, err := exec.Command(curl, append([]string{"-sS", "--max-time", "10"}, args...)...).Output()
					if err != nil {
						t.Fatalf("curl %v: %v", args, err)
					}
					return string(out)
				}
				// Several requests on one connection, and an upload with Expect: 100-continue
				// for which curl waits 30 s: it gets through within --max-time only if the
				// server sends the 100.
				upload := filepath.Join(t.TempDir(), "up.bin")
				os.WriteFile(upload, blob, 0o644)
				out := run("http://"+addr+"/echo", "http://"+addr+"/echo", "--next", "--data-binary", "@"+upload,
					"-H", "Expect: 100-continue", "--expect100-timeout", "30", "http://"+addr+"/echo")
				if want := "GET 0 GET 0 POST 1048576 100-continue"; out != want {
					t.Fatalf("curl got %q; want %q", out, want)
				}
				if style == "native" {
					return
				}
				if out := run("-r", "10-19", "http://"+addr+"/files/blob.bin"); out != string(blob[10:20]) {
					t.Fatalf("range through curl: %d bytes", len(out))
				}
				if out := run("http://" + addr + "/files/blob.bin"); out != string(blob) {
					t.Fatalf("file through curl: %d bytes", len(out))
				}
			})
		}
	})
}
