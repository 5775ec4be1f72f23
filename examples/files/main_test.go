package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/examples/internal/progtest"
)

// The tests build the example and run it as a user would, on files whose content they know, with each
// aio backend, and check what it prints and the copy it leaves.

const runTimeout = 20 * time.Second // the program takes milliseconds; this only bounds a hang

func TestMain(m *testing.M) { progtest.Main(m) }

func backends(t *testing.T) []string {
	list := []string{"pool"}
	if a, err := aio.New(aio.WithBackend(aio.Uring)); err == nil {
		a.Close()
		list = append(list, "uring")
	} else {
		t.Logf("uring backend not tested: %v", err)
	}
	return list
}

func TestFilesCopies(t *testing.T) {
	prog := progtest.Build(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, be := range backends(t) {
		for _, tc := range []struct {
			size, chunk, inflight int
		}{
			{0, 1000, 4},
			{1, 1000, 4},
			{999, 1000, 1},
			{1000, 1000, 4},
			{1001, 1000, 4},
			{3_000_017, 65536, 8},
			{3_000_017, 1 << 20, 64}, // more slots than chunks
		} {
			t.Run(fmt.Sprintf("%s/%d/%d/%d", be, tc.size, tc.chunk, tc.inflight), func(t *testing.T) {
				dir := t.TempDir()
				src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
				data := make([]byte, tc.size)
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
				if err := os.WriteFile(src, data, 0o644); err != nil {
					t.Fatal(err)
				}
				// A longer file at dst must be truncated.
				if err := os.WriteFile(dst, bytes.Repeat([]byte("x"), tc.size+100), 0o644); err != nil {
					t.Fatal(err)
				}
				out := progtest.Output(t, runTimeout, prog, "-src", src, "-dst", dst,
					"-chunk", fmt.Sprint(tc.chunk), "-inflight", fmt.Sprint(tc.inflight), "-backend", be)
				chunks := (tc.size + tc.chunk - 1) / tc.chunk
				want := fmt.Sprintf("copied %d bytes in %d chunks on %s; digests match\n", tc.size, chunks, be)
				if out != want {
					t.Errorf("output %q, want %q", out, want)
				}
				got, err := os.ReadFile(dst)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, data) {
					t.Errorf("the copy (%d bytes) differs from the source (%d bytes)", len(got), len(data))
				}
			})
		}
	}
}

// TestFilesErrors checks failures of the copy itself (status 1); usage_test.go has the usage
// errors (status 2).
func TestFilesErrors(t *testing.T) {
	prog := progtest.Build(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing-src", []string{"-src", filepath.Join(dir, "none"), "-dst", filepath.Join(dir, "d")}, "no such file"},
		{"dst-in-missing-dir", []string{"-src", src, "-dst", filepath.Join(dir, "no", "d")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := progtest.RunError(t, runTimeout, 1, prog, tc.args...)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error output %q, want it to contain %q", msg, tc.want)
			}
		})
	}
}
