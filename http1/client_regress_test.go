package http1_test

// Regression tests for the bugs the client soak (client_soak_test.go) found, each made deterministic.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/http1"
)

// regressServer serves each request of each connection: hold(path) blocks until the test lets it answer.
func regressServer(t *testing.T, hold func(path string)) (string, func()) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					hold(req.URL.Path)
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String(), func() { ln.Close() }
}

func TestClientRegressionStaleAbort(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			got := map[string]chan bool{"/a": make(chan bool, 1), "/o1": make(chan bool, 1), "/o2": make(chan bool, 1)}
			send := map[string]chan bool{"/a": make(chan bool), "/o1": make(chan bool), "/o2": make(chan bool)}
			hold := func(p string) {
				if got[p] != nil {
					got[p] <- true
					<-send[p]
				}
			}
			h, stopH := regressServer(t, hold)
			defer stopH()
			o, stopO := regressServer(t, hold)
			defer stopO()
			o2, stopO2 := regressServer(t, hold)
			defer stopO2()
			tr := &http1.Transport{Engine: kind, Loops: 1, MaxConnsPerHost: 1}
			defer tr.Close()
			ctxA, cancelA := context.WithCancel(context.Background())
			reqA, _ := http.NewRequestWithContext(ctxA, "GET", h+"/a", nil)
			fA := tr.RoundTripAsync(reqA)
			<-got["/a"]
			reqB, _ := http.NewRequest("GET", h+"/b", nil)
			fB := tr.RoundTripAsync(reqB) // waits for A's connection: MaxConnsPerHost 1
			req1, _ := http.NewRequest("GET", o+"/o1", nil)
			f1 := tr.RoundTripAsync(req1)
			req2, _ := http.NewRequest("GET", o2+"/o2", nil)
			f2 := tr.RoundTripAsync(req2)
			<-got["/o1"]
			<-got["/o2"]
			frozen1, frozen2 := make(chan bool), make(chan bool)
			// Continuations on the loop that hold it, so that what arrives meanwhile is handled in
			// the order the test chooses.
			future.Map(f1, future.Inline, func(r *http.Response) (int, error) {
				frozen1 <- true
				time.Sleep(50 * time.Millisecond)
				r.Body.Close()
				return 0, nil
			})
			future.Map(f2, future.Inline, func(r *http.Response) (int, error) {
				frozen2 <- true
				time.Sleep(50 * time.Millisecond)
				r.Body.Close()
				return 0, nil
			})
			close(send["/o1"])
			<-frozen1
			// Loop held: o2's answer, then A's, arrive; the next wait returns both, o2's first.
			close(send["/o2"])
			time.Sleep(5 * time.Millisecond)
			close(send["/a"])
			<-frozen2
			// Loop held in o2's callback, A's answer next in its batch: cancel A now.
			cancelA()
			<-fA.Done()
			_, errA := fA.Result()
			select {
			case <-fB.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("B hangs")
			}
			respB, errB := fB.Result()
			if respB != nil {
				respB.Body.Close()
			}
			t.Logf("A (cancelled): %v; B (never cancelled): %v", errA, errB)
			if errB != nil {
				t.Errorf("B failed: %v", errB)
			}
		})
	}
}

// A server that closes every kept-alive connection when its second request arrives (the keep-alive
// race, made deterministic): the client's pool holds two such connections.
func TestClientRegressionRetryStale(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			defer ln.Close()
			arrived := make(chan bool, 2)
			both := make(chan bool)
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						br := bufio.NewReader(c)
						for n := 0; ; n++ {
							req, err := http.ReadRequest(br)
							if err != nil {
								return
							}
							if n == 1 && req.URL.Path != "/fresh" {
								return // the second request on a connection: close without an answer
							}
							if req.URL.Path == "/warm" {
								arrived <- true
								<-both
							}
							io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
						}
					}()
				}
			}()
			u := "http://" + ln.Addr().String()
			var tr http.RoundTripper
			if kind == "std" {
				ntr := &http.Transport{}
				defer ntr.CloseIdleConnections()
				tr = ntr
				t.Log("net/http's Transport here")
			} else {
				etr := &http1.Transport{Engine: kind, Loops: 1}
				defer etr.Close()
				tr = etr
			}
			done := make(chan error, 2)
			for range 2 {
				go func() {
					resp, err := tr.RoundTrip(mustReq(u + "/warm"))
					if err == nil {
						io.ReadAll(resp.Body)
						resp.Body.Close()
					}
					done <- err
				}()
			}
			<-arrived
			<-arrived
			close(both)
			<-done
			<-done
			time.Sleep(20 * time.Millisecond) // both connections idle in the pool
			resp, err := tr.RoundTrip(mustReq(u + "/g"))
			if err == nil {
				resp.Body.Close()
			}
			t.Logf("GET on a pool of two connections the server drops: %v", err)
			if err != nil {
				t.Errorf("GET failed: %v", err)
			}
		})
	}
}

func mustReq(u string) *http.Request { r, _ := http.NewRequest("GET", u, nil); return r }

func TestClientRegressionPreCancelled(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			var reached atomicInt
			srv := &http1.Server{Addr: "127.0.0.1:0", Engine: kind, Loops: 1, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/post" {
					reached.add()
				}
				io.WriteString(w, "ok")
			})}
			srv.Start()
			defer srv.Close()
			u := "http://" + srv.Addrs()[0].String()
			tr := &http1.Transport{Engine: kind, Loops: 1}
			defer tr.Close()
			ok := 0
			const n = 500
			for range n {
				resp, _ := tr.RoundTrip(mustReq(u + "/warm")) // an idle connection ready
				io.ReadAll(resp.Body)
				resp.Body.Close()
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				req, _ := http.NewRequestWithContext(ctx, "POST", u+"/post", nil)
				resp, err := tr.RoundTrip(req)
				if err == nil {
					ok++
					resp.Body.Close()
				}
			}
			time.Sleep(50 * time.Millisecond)
			t.Logf("%d POSTs with a context cancelled before RoundTrip: %d returned a response, %d reached the server", n, ok, reached.get())
		})
	}
}

type atomicInt struct{ v atomic.Int64 }

func (a *atomicInt) add()       { a.v.Add(1) }
func (a *atomicInt) get() int64 { return a.v.Load() }

func TestClientRegressionCloseDuringDial(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			var reached atomicInt
			ln, _ := net.Listen("tcp", "127.0.0.1:0")
			defer ln.Close()
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						br := bufio.NewReader(c)
						if _, err := http.ReadRequest(br); err == nil {
							reached.add()
						}
						io.Copy(io.Discard, br) // hold it, unanswered, until the client goes
					}()
				}
			}()
			u := "http://" + ln.Addr().String()
			counts := map[string]int{}
			for range 20 {
				tr := &http1.Transport{Engine: kind, Loops: 1}
				errs := make(chan error, 50)
				for range 50 {
					go func() { _, err := tr.RoundTrip(mustReq(u + "/")); errs <- err }()
				}
				time.Sleep(time.Duration(200+time.Now().UnixNano()%800) * time.Microsecond)
				tr.Close()
				for range 50 {
					err := <-errs
					if !errors.Is(err, http1.ErrTransportClosed) {
						counts[fmt.Sprint(err)]++
					}
				}
			}
			t.Logf("requests that reached the server: %d; errors other than ErrTransportClosed: %v", reached.get(), counts)
		})
	}
}
