package http1_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy/http1"
)

// forEachClientEngine runs fn with a Transport on each engine, closed at the end.
func forEachClientEngine(t *testing.T, fn func(t *testing.T, tr *http1.Transport)) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			tr := &http1.Transport{Engine: kind, Loops: 1}
			defer func() {
				if err := tr.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			fn(t, tr)
		})
	}
	skipMissingUring(t)
}

func TestClientBasics(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		fmt.Fprint(w, "hello")
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(big)))
		w.Write(big)
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		for i := 0; i < 100; i++ {
			w.Write(big[:10000])
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Sum", "done")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d %x %v", n, h.Sum(nil), r.TransferEncoding)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	forEachClientEngine(t, func(t *testing.T, tr *http1.Transport) {
		client := &http.Client{Transport: tr}
		for i := 0; i < 3; i++ {
			resp, err := client.Get(srv.URL + "/hello")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "hello" || resp.StatusCode != 200 || resp.Header.Get("X-Method") != "GET" {
				t.Fatalf("got %q %v %d %v", b, err, resp.StatusCode, resp.Header)
			}
		}
		resp, err := client.Get(srv.URL + "/big")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(b, big) {
			t.Fatalf("big: %d bytes, %v", len(b), err)
		}
		resp, err = client.Get(srv.URL + "/chunked")
		if err != nil {
			t.Fatal(err)
		}
		b, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || len(b) != 1000000 || resp.Trailer.Get("X-Sum") != "done" {
			t.Fatalf("chunked: %d bytes, %v, trailer %v", len(b), err, resp.Trailer)
		}
		for _, body := range []io.Reader{strings.NewReader("small body"), bytes.NewReader(big), io.MultiReader(bytes.NewReader(big))} {
			var want []byte
			want, _ = io.ReadAll(body)
			switch b := body.(type) {
			case *strings.Reader:
				b.Seek(0, 0)
			case *bytes.Reader:
				b.Seek(0, 0)
			default:
				body = io.MultiReader(bytes.NewReader(want))
			}
			resp, err := client.Post(srv.URL+"/echo", "application/octet-stream", body)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			wantText := fmt.Sprintf("%d %x", len(want), sha256.Sum256(want))
			if err != nil || !strings.HasPrefix(string(b), wantText) {
				t.Fatalf("echo: got %q want %q (%v)", b, wantText, err)
			}
		}
	})
}

// What http.Client builds on its transport works over this one: redirects (with the method and body
// rules of 303 and 307), cookies, and Client.Timeout, which ends a request whose server stalls.
func TestClientWithHTTPClient(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/see-other", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "k", Value: "v"})
		http.Redirect(w, r, "/landing", http.StatusSeeOther)
	})
	mux.HandleFunc("/temporary", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/landing", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/landing", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c, _ := r.Cookie("k")
		cookie := ""
		if c != nil {
			cookie = c.Value
		}
		fmt.Fprintf(w, "%s %q cookie=%s", r.Method, body, cookie)
	})
	stall := make(chan struct{})
	defer close(stall)
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	forEachClientEngine(t, func(t *testing.T, tr *http1.Transport) {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Transport: tr, Jar: jar}
		for _, tc := range []struct{ path, want string }{
			{"/see-other", `GET "" cookie=v`},
			{"/temporary", `POST "payload" cookie=v`},
		} {
			resp, err := client.Post(srv.URL+tc.path, "text/plain", strings.NewReader("payload"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != tc.want {
				t.Errorf("POST %s: %q, want %q", tc.path, b, tc.want)
			}
		}
		client.Timeout = 200 * time.Millisecond
		start := time.Now()
		_, err := client.Get(srv.URL + "/stall")
		var uerr *url.Error
		if !errors.As(err, &uerr) || !uerr.Timeout() {
			t.Errorf("GET /stall with Client.Timeout: %v, want a timeout", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the timeout took %v", d)
		}
	})
}

// Requests the Transport cannot send fail before anything is sent, with an error that says why.
func TestClientRefusedRequests(t *testing.T) {
	tr := &http1.Transport{}
	defer tr.Close()
	mk := func(method, u string) *http.Request {
		req, err := http.NewRequest(method, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	bad := mk("GET", "http://127.0.0.1:1/")
	bad.Header.Set("X", "a\r\nInjected: 1")
	for _, tc := range []struct {
		req  *http.Request
		want string
	}{
		{mk("GET", "ws://127.0.0.1:1/"), `unsupported protocol scheme "ws"`},
		{mk("CONNECT", "http://127.0.0.1:1/"), "CONNECT is not supported"},
		{bad, "invalid header field value"},
	} {
		resp, err := tr.RoundTrip(tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: %v, %v; want an error saying %q", tc.req.Method, tc.req.URL, resp, err, tc.want)
		}
	}
}
