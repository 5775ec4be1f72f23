package eddy_test

import (
	"context"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eddyio/eddy"
)

// Options out of range are errors from New that name the value, and no error path, New's or a failed
// Start's, leaves a goroutine, a descriptor or a socket file behind, on any engine.
func TestErrorPathsLeakNothing(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		dir := t.TempDir()
		runtime.GC()
		base := countFDs(t)
		for i := 0; i < 3; i++ {
			for _, tc := range []struct {
				opt  eddy.Option
				want string
			}{
				{eddy.WithLoops(0), "WithLoops(0)"},
				{eddy.WithLoops(-1), "WithLoops(-1)"},
				{eddy.WithLoops(1000000), "WithLoops(1000000)"},
				{eddy.WithReadBufferSize(-1), "WithReadBufferSize(-1)"},
				{eddy.WithReadBufferSize(math.MinInt), "WithReadBufferSize(-9223372036854775808)"},
				{eddy.WithWriteBufferWaterMarks(-1, 10), "WithWriteBufferWaterMarks(-1, 10)"},
				{eddy.WithWriteBufferWaterMarks(10, -1), "WithWriteBufferWaterMarks(10, -1)"},
				{eddy.WithWriteBufferWaterMarks(20, 10), "WithWriteBufferWaterMarks(20, 10)"},
				{eddy.WithWriteBufferWaterMarks(10, 10), "WithWriteBufferWaterMarks(10, 10)"},
				{eddy.WithTaskQueueCapacity(-1), "WithTaskQueueCapacity(-1)"},
				{eddy.WithTCPKeepAlive(32768 * time.Second), "WithTCPKeepAlive(9h6m8s)"},
				{eddy.WithStopTimeout(-time.Second), "WithStopTimeout(-1s)"},
				{eddy.WithBalance(eddy.Balance(7)), "WithBalance(Balance(7))"},
			} {
				_, err := eddy.New(eddy.BaseHandler{}, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), tc.opt)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("New with %s: %v; want an error naming it", tc.want, err)
				}
			}
			// A New that succeeds and is never started holds nothing either.
			if _, err := eddy.New(eddy.BaseHandler{}, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind)); err != nil {
				t.Fatal(err)
			}
			// Failed Starts: a busy port after a unix socket the engine had bound (whose file it must
			// remove), a missing directory, an OnBoot error.
			sock := filepath.Join(dir, "first.sock")
			for _, tc := range []struct {
				h     eddy.Handler
				addrs []string
			}{
				{eddy.BaseHandler{}, []string{"unix://" + sock, "tcp://" + busy.Addr().String()}},
				{eddy.BaseHandler{}, []string{"unix://" + filepath.Join(dir, "nodir", "s.sock")}},
				{bootFail{}, []string{"unix://" + sock, "tcp://127.0.0.1:0"}},
			} {
				e, err := eddy.New(tc.h, tc.addrs, eddy.WithEngine(kind), eddy.WithLoops(2))
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Start(); err == nil {
					e.Stop(context.Background())
					t.Fatalf("Start(%q) succeeded", tc.addrs)
				}
				select {
				case <-e.Done():
				default:
					t.Errorf("Start(%q) failed and Done is not closed", tc.addrs)
				}
				if _, err := os.Lstat(sock); !os.IsNotExist(err) {
					t.Errorf("after Start(%q) failed, %s: %v; want it removed", tc.addrs, sock, err)
				}
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for countFDs(t) > base && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := countFDs(t); n > base {
			t.Errorf("%d descriptors open after the error paths, %d before", n, base)
		}
	})
}
