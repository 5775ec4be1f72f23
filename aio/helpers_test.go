package aio_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/internal/fdcheck"
)

// TestMain fails the package if any goroutine or file descriptor outlives the tests.
func TestMain(m *testing.M) {
	fdcheck.Main(m)
}

// hang is how long a test waits for something that must happen before it calls it a hang. It is
// generous: it only detects hangs, it never decides a result.
const hang = 10 * time.Second

var backends = []aio.Backend{aio.Uring, aio.Pool}

var (
	uringOnce sync.Once
	uringErr  error
)

// uringUnavailable reports why New(WithBackend(Uring)) fails here, or nil.
func uringUnavailable() error {
	uringOnce.Do(func() {
		a, err := aio.New(aio.WithBackend(aio.Uring))
		if err != nil {
			uringErr = err
			return
		}
		a.Close()
	})
	return uringErr
}

// eachBackendName runs fn once per backend in a subtest named after it, skipping Uring only if
// New(WithBackend(Uring)) fails. After fn (and its cleanups) no goroutine may be left.
func eachBackendName(t *testing.T, fn func(t *testing.T, be aio.Backend)) {
	t.Helper()
	for _, be := range backends {
		t.Run(string(be), func(t *testing.T) {
			if be == aio.Uring {
				if err := uringUnavailable(); err != nil {
					t.Skipf("io_uring unavailable: %v", err)
				}
			}
			t.Cleanup(func() {
				if !t.Failed() {
					goleak.VerifyNone(t)
				}
			})
			fn(t, be)
		})
	}
}

// eachBackend runs fn once per backend with a fresh IO made with opts (after WithBackend), closed
// when the subtest ends. IO.Close must return within hang, and leave no goroutine behind.
func eachBackend(t *testing.T, opts []aio.Option, fn func(t *testing.T, a *aio.IO)) {
	t.Helper()
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		a := newIO(t, be, opts...)
		fn(t, a)
	})
}

// newIO makes an IO on backend be, closed (and checked to close promptly) at the end of the test.
func newIO(t *testing.T, be aio.Backend, opts ...aio.Option) *aio.IO {
	t.Helper()
	a, err := aio.New(append([]aio.Option{aio.WithBackend(be)}, opts...)...)
	if err != nil {
		t.Fatalf("New(%s): %v", be, err)
	}
	if got := a.Backend(); got != be {
		t.Fatalf("Backend() = %q, want %q", got, be)
	}
	t.Cleanup(func() {
		done := make(chan error, 1)
		go func() { done <- a.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("IO.Close: %v", err)
			}
		case <-time.After(hang):
			t.Errorf("IO.Close did not return within %v", hang)
		}
	})
	return a
}

// tempPath returns the name of a new file holding data (none if data is nil).
func tempPath(t *testing.T, data []byte) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "file")
	if data != nil {
		if err := os.WriteFile(name, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return name
}

// open opens name on a and closes the File when the test ends (a second Close is harmless).
func open(t *testing.T, a *aio.IO, name string, flag int) *aio.File {
	t.Helper()
	f, err := a.Open(name, flag, 0o644)
	if err != nil {
		t.Fatalf("Open(%s): %v", name, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// await waits for fut, failing the test if it does not complete within hang.
func await[T any](t testing.TB, fut future.Future[T]) (T, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	defer cancel()
	select {
	case <-fut.Done():
	case <-ctx.Done():
		t.Fatalf("future not complete after %v (hang)", hang)
	}
	return fut.Result()
}

// resolvedNow returns fut's result, failing the test if it is not complete yet.
func resolvedNow[T any](t testing.TB, fut future.Future[T], what string) (T, error) {
	t.Helper()
	v, err := fut.Result()
	if errors.Is(err, future.ErrPending) {
		t.Fatalf("%s: future still pending, want it complete", what)
	}
	return v, err
}

// within runs fn on a goroutine and fails the test if it does not return within hang.
func within(t testing.TB, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(hang):
		t.Fatalf("%s did not return within %v (deadlock?)", what, hang)
	}
}

// randBytes returns n pseudo-random bytes from rng.
func randBytes(rng *rand.Rand, n int) []byte {
	p := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := rng.Uint64()
		p[i], p[i+1], p[i+2], p[i+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		p[i+4], p[i+5], p[i+6], p[i+7] = byte(v>>32), byte(v>>40), byte(v>>48), byte(v>>56)
	}
	for i := n &^ 7; i < n; i++ {
		p[i] = byte(rng.Uint32())
	}
	return p
}

// pattern returns n bytes that depend on their offset and on seed, so that misplaced data shows.
func pattern(seed byte, off int64, n int) []byte {
	p := make([]byte, n)
	for i := range p {
		x := uint64(off) + uint64(i)
		p[i] = byte(x) ^ byte(x>>8)*31 ^ byte(x>>16)*7 ^ seed
	}
	return p
}

// checkBytes fails the test at the first difference between got and want.
func checkBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes, want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: byte %d (of %d) is %#x, want %#x", what, i, len(got), got[i], want[i])
		}
	}
}

// fileBytes returns the content of name, read with package os.
func fileBytes(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pathErr fails the test unless err is an *os.PathError, and returns it.
func pathErr(t testing.TB, what string, err error) *os.PathError {
	t.Helper()
	var pe *os.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: error %v (%T), want an *os.PathError", what, err, err)
	}
	return pe
}

// prompt is how long a stopped operation, or a Close, may take before the test calls it stuck. It
// only detects hangs.
const prompt = 3 * time.Second

// settle gives an operation time to reach the kernel before the test stops it. Correctness never
// depends on it: the outcome is checked either way; it only makes the interesting path likely.
func settle() { time.Sleep(20 * time.Millisecond) }

// awaitWithin is await with a shorter limit.
func awaitWithin[T any](t testing.TB, fut future.Future[T], d time.Duration, what string) (T, error) {
	t.Helper()
	select {
	case <-fut.Done():
	case <-time.After(d):
		t.Fatalf("%s: not complete %v after it was stopped (hang)", what, d)
	}
	return fut.Result()
}
