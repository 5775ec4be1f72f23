package eddy_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// The longest unix socket path and abstract name the address parser takes (107 bytes, the path's
// NUL filling sun_path's 108; the abstract name '@' included, see socket.UnixPathMax) are served by
// every engine's listener and dialled by its Dial; one byte more is refused by New and Dial, before
// anything starts. A 108-byte abstract name passed the parser (108 was its limit for "@name", the
// kernel's) and failed at Start with EINVAL on epoll and uring, whose x/sys/unix sockaddr refuses a
// name that fills sun_path.
func TestUnixPathAtTheLimit(t *testing.T) {
	dir, err := os.MkdirTemp("/tmp", "u")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		path := filepath.Join(dir, string(kind)+"-")
		abstract := "@eddy-limit-" + string(kind) + "-" + filepath.Base(dir) + "-"
		for _, name := range []string{path + strings.Repeat("p", 107-len(path)), abstract + strings.Repeat("a", 107-len(abstract))} {
			e := startEngine(t, kind, newEcho(false), []string{"unix://" + name})
			c, err := net.Dial("unix", name)
			if err != nil {
				t.Fatalf("%d bytes: dial: %v", len(name), err)
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write([]byte("ping"))
			b := make([]byte, 4)
			if _, err := c.Read(b); err != nil || string(b) != "ping" {
				t.Fatalf("%d bytes: read %q, %v", len(name), b, err)
			}
			c.Close()
			d, err := e.Dial(context.Background(), "unix://"+name).Await(context.Background())
			if err != nil {
				t.Fatalf("%d bytes: engine Dial: %v", len(name), err)
			}
			d.Close()
			if _, err := e.Dial(context.Background(), "unix://"+name+"x").Await(context.Background()); err == nil {
				t.Errorf("Dial of a %d-byte name succeeded", len(name)+1)
			}
			if _, err := eddy.New(eddy.BaseHandler{}, []string{"unix://" + name + "x"}, eddy.WithEngine(kind)); err == nil {
				t.Errorf("New with a %d-byte name succeeded", len(name)+1)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			e.Stop(ctx)
			cancel()
		}
	})
}
