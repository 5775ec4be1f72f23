package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// The two styles are documented as the same answer: "Hello, World!" to GET /, 404 to any other
// path. A request in absolute form ("GET http://host/ HTTP/1.1", which RFC 9112 3.2.2 requires a
// server to accept, and which proxies send) is GET / too, in both styles. The native one answered it
// 404 until NativeRequest.Path returned the whole target up to '?' ("http://host/"; session 19).
func TestAbsoluteFormTargetIsRoot(t *testing.T) {
	progtest.NeedSIGTERM(t)
	prog := progtest.Build(t)
	for _, style := range []string{"nethttp", "native"} {
		t.Run(style, func(t *testing.T) {
			p := progtest.Start(t, prog, "-addr", "127.0.0.1:0", "-engine", "std", "-style", style, "-loops", "1")
			m := p.WaitListening(t, "std", regexp.MustCompile(`hello-http: (\S+) style, (\S+) engine, listening on (\S+);`))
			defer p.Stop(t)
			c, err := net.Dial("tcp", m[3])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(ioTimeout))
			io.WriteString(c, "GET http://"+m[3]+"/ HTTP/1.1\r\nHost: "+m[3]+"\r\n\r\n")
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(body) != hello {
				t.Errorf("%s style: GET http://%s/: %s %q, want 200 %q", style, m[3], resp.Status, body, hello)
			}
		})
	}
}
