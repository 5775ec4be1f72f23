package http1_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
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
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = ctx
		_ = eddy.EngineStd
	})
}
