package aio_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/aio"
)

// A write that the kernel takes in part and then refuses reports the bytes it wrote with the error, on
// both backends, as the package promises ("the bytes done so far"). os.File.WriteAt drops the count of
// its last pwrite when that one fails (Go 1.26), which the pool backend passed on: 0 for a write of which
// 1 MiB reached the file. The write runs in a child process whose RLIMIT_FSIZE is 1 MiB (the
// runtime ignores SIGXFSZ, so the write beyond it fails with EFBIG).
func TestPartialWriteReportsTheBytesWritten(t *testing.T) {
	out := inFsizeChild(t, "AIO_FSIZE_CHILD", fsizeChild)
	for _, be := range backends {
		line := fmt.Sprintf("%s: n=%d EFBIG=true", be, 1<<20)
		if be == aio.Uring && uringUnavailable() != nil {
			continue
		}
		if !strings.Contains(string(out), line) {
			t.Errorf("child printed:\n%s\nwant a line %q", out, line)
		}
	}
}

// inFsizeChild runs t's test again in a child process whose RLIMIT_FSIZE is 1 MiB, where it calls child
// with a new directory to write in, and returns what the child printed (the child's verdicts). In the
// child (env set) it does not return. The runtime ignores SIGXFSZ: a write past the limit fails with
// EFBIG.
func inFsizeChild(t *testing.T, env string, child func(dir string)) []byte {
	t.Helper()
	if dir := os.Getenv(env); dir != "" {
		if err := unix.Setrlimit(unix.RLIMIT_FSIZE, &unix.Rlimit{Cur: 1 << 20, Max: 1 << 20}); err != nil {
			fmt.Println("setrlimit:", err)
			os.Exit(1)
		}
		child(dir)
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$")
	cmd.Env = append(os.Environ(), env+"="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	return out
}

// fsizeChild makes a WriteAt of 3 MiB on each backend and prints its outcome.
func fsizeChild(dir string) {
	ctx := context.Background()
	for _, be := range backends {
		a, err := aio.New(aio.WithBackend(be))
		if err != nil {
			fmt.Printf("%s: %v\n", be, err)
			continue
		}
		f, err := a.Open(filepath.Join(dir, string(be)), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(1)
		}
		n, err := f.WriteAt(ctx, make([]byte, 3<<20), 0).Await(ctx)
		fmt.Printf("%s: n=%d EFBIG=%v (%v)\n", be, n, errors.Is(err, syscall.EFBIG), err)
		f.Close()
		a.Close()
	}
}
