package aio

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// eachBackendInternal runs fn once per backend, for the tests that need the package's insides,
// skipping Uring only if New(WithBackend(Uring)) fails.
func eachBackendInternal(t *testing.T, fn func(t *testing.T, be Backend)) {
	for _, be := range []Backend{Uring, Pool} {
		t.Run(string(be), func(t *testing.T) {
			if be == Uring {
				a, err := New(WithBackend(Uring))
				if err != nil {
					t.Skipf("io_uring unavailable: %v", err)
				}
				a.Close()
			}
			fn(t, be)
		})
	}
}

// TestSlotGenerationWrap: the io_uring backend names an operation in its SQE's user_data by its
// slot and the slot's generation (gen<<32 | slot), and marks its ASYNC_CANCELs with the top bit
// (udCancel). The generation goes up by one for every operation a slot completes, and the free slots
// are a stack, so an IO that runs one operation at a time uses slot 0 for all of them. Once, the
// generation grew into the tag bits after 2^30 operations (hours of a busy process): the completion
// was taken for an ASYNC_CANCEL's and dropped, the operation never completed, and IO.Close, which
// waits for it, never returned. Generations now keep 31 bits and wrap.
//
// The test sets slot 0's generation just below its wrap and runs four reads one after the other. It
// runs in a child process, since a lost operation cannot be got back and would hang IO.Close.
func TestSlotGenerationWrap(t *testing.T) {
	if be := os.Getenv("AIO_GENWRAP_CHILD"); be != "" {
		genWrapChild(Backend(be))
		return
	}
	eachBackendInternal(t, func(t *testing.T, be Backend) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSlotGenerationWrap$", "-test.count=1")
		cmd.Env = append(os.Environ(), "AIO_GENWRAP_CHILD="+string(be), "AIO_GENWRAP_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "all 4 reads complete") {
			t.Fatalf("child printed:\n%s\nwant every read to complete", out)
		}
	})
}

func genWrapChild(be Backend) {
	a, err := New(WithBackend(be), WithQueueDepth(1))
	if err != nil {
		fmt.Println("New:", err)
		os.Exit(1)
	}
	const start = genMask - 1
	if ub, ok := a.be.(*uringBackend); ok {
		// Before any operation: the loop reads gens only for operations handed to it later.
		ub.gens[0] = start
	}
	name := filepath.Join(os.Getenv("AIO_GENWRAP_DIR"), "f")
	if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	f, err := a.Open(name, os.O_RDONLY, 0)
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	for i := range 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // a cached 10-byte read
		buf := make([]byte, 10)
		n, err := f.ReadAt(context.Background(), buf, 0).Await(ctx)
		cancel()
		if n != 10 || err != nil || string(buf) != "0123456789" {
			fmt.Printf("%s: read %d (slot 0, generation %#x, user_data %#x) = %d, %v: lost\n",
				be, i, start+i, uint64(start+i)<<32, n, err)
			os.Exit(0) // not IO.Close: it would wait for the lost read forever
		}
	}
	a.Close()
	fmt.Println("all 4 reads complete")
	os.Exit(0)
}
