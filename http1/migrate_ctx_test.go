package http1_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestContextOnClientGone: a long-poll handler waiting on r.Context().Done() learns that the
// client went, as with net/http, for each way the client goes and each state of the request.
func TestMigrateContextOnClientGone(t *testing.T) {
	type variant struct {
		name    string
		req     string
		read    bool // the handler reads the body first
		flush   bool // the handler flushes a head first
		how     string
		waitFor time.Duration
	}
	vs := []variant{
		{"get-close", "GET /w HTTP/1.1\r\nHost: x\r\n\r\n", false, false, "close", 10 * time.Second},
		{"get-reset", "GET /w HTTP/1.1\r\nHost: x\r\n\r\n", false, false, "reset", 10 * time.Second},
		{"get-halfclose", "GET /w HTTP/1.1\r\nHost: x\r\n\r\n", false, false, "closewrite", 10 * time.Second},
		{"flushed-close", "GET /w HTTP/1.1\r\nHost: x\r\n\r\n", false, true, "close", 10 * time.Second},
		{"body-read-close", "POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", true, false, "close", 10 * time.Second},
		{"partial-body-reading-close", "POST /w HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nhello", true, false, "close", 10 * time.Second},
		{"chunked-read-close", "POST /w HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", true, false, "close", 10 * time.Second},
	}
	for _, v := range vs {
		t.Run(v.name, func(t *testing.T) {
			started := make(chan struct{}, 1)
			obs := make(chan string, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var readErr error
				if v.read {
					_, readErr = io.ReadAll(r.Body)
				}
				if v.flush {
					w.WriteHeader(200)
					http.NewResponseController(w).Flush()
				}
				started <- struct{}{}
				select {
				case <-r.Context().Done():
					obs <- "ctx " + r.Context().Err().Error() + "; read " + zzErrClass(readErr)
				case <-time.After(v.waitFor):
					obs <- "not cancelled; read " + zzErrClass(readErr)
				}
			})
			zzDiff(t, h, func(t *testing.T, s zzServer) string {
				c := dial(t, s.addr)
				io.WriteString(c, v.req)
				if !v.read || !strings.Contains(v.name, "partial") {
					<-started
				} else {
					time.Sleep(50 * time.Millisecond) // the handler is blocked in Read, or will be
				}
				switch v.how {
				case "close":
					c.Close()
				case "reset":
					c.(*net.TCPConn).SetLinger(0)
					c.Close()
				case "closewrite":
					c.(*net.TCPConn).CloseWrite()
				}
				if v.read && strings.Contains(v.name, "partial") {
					<-started
				}
				got := <-obs
				if v.how == "closewrite" {
					// The answer still goes out, as net/http's does.
					c.SetReadDeadline(time.Now().Add(10 * time.Second))
					b, err := io.ReadAll(bufio.NewReader(c))
					got += "; then " + zzErrClass(err) + " " + firstLine(string(b))
				}
				return got
			})
		})
	}
}

func firstLine(s string) string { l, _, _ := strings.Cut(s, "\r\n"); return l }

// TestContextOnShutdown: what a long-poll handler's context does when the server shuts down
// gracefully (net/http does not cancel it: Shutdown waits, and gives up with its context's
// error), and then when Close comes.
func TestMigrateContextOnShutdown(t *testing.T) {
	started := make(chan struct{}, 1)
	obs := make(chan string, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			obs <- "ctx " + r.Context().Err().Error()
		case <-time.After(10 * time.Second):
			obs <- "not cancelled"
		}
	})
	zzDiff(t, h, func(t *testing.T, s zzServer) string {
		hook := make(chan struct{})
		s.onShutdown(func() { close(hook) })
		c := dial(t, s.addr)
		io.WriteString(c, "GET /w HTTP/1.1\r\nHost: x\r\n\r\n")
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := s.shutdown(ctx)
		cancel()
		out := "shutdown: " + zzErrClass(err) + " " + zzErrText(err)
		select {
		case <-hook:
			out += "; hook ran"
		case <-time.After(10 * time.Second):
			out += "; hook did not run"
		}
		select {
		case o := <-obs:
			out += "; before Close: " + o
		default:
			out += "; before Close: still waiting"
		}
		s.close()
		select {
		case o := <-obs:
			out += "; after Close: " + o
		case <-time.After(10 * time.Second):
			out += "; after Close: still waiting"
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		b, err := io.ReadAll(c)
		out += "; client: " + zzErrClass(err) + " " + firstLine(string(b))
		return out
	})
}

func zzErrText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
