// Command files copies a file through package aio, eddy's asynchronous file I/O: the source is read
// in chunks, each chunk's write is chained to its read with future.Then, and up to -inflight chunks are
// on their way at once, with no goroutine per chunk and, on io_uring, no OS thread waiting per
// operation. It then reads both files back through aio and compares their SHA-256 digests.
//
//	go run ./examples/files -src big.bin -dst copy.bin -chunk 1048576 -inflight 8
//
// It exits with status 1 if the copy fails (the message says why), 2 on a bad command line.
package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

func main() {
	src := flag.String("src", "", "file to copy (required)")
	dst := flag.String("dst", "", "file to write, created or truncated (required)")
	chunk := flag.Int("chunk", 1<<20, "bytes per read and write")
	inflight := flag.Int("inflight", 8, "chunks on their way at once")
	backend := flag.String("backend", "auto", "aio backend: auto, uring or pool")
	flag.Parse()
	// A bad command line is a usage error, status 2, as flag's own errors are.
	usage := func(msg string) {
		fmt.Fprintln(os.Stderr, "files:", msg)
		flag.Usage()
		os.Exit(2)
	}
	switch {
	case flag.NArg() > 0:
		usage(fmt.Sprintf("unexpected argument %q", flag.Arg(0)))
	case *src == "" || *dst == "":
		usage("-src and -dst are required")
	case *chunk < 1 || *inflight < 1:
		usage(fmt.Sprintf("-chunk %d and -inflight %d must be positive", *chunk, *inflight))
	}
	b := aio.Backend(*backend)
	switch b {
	case aio.Auto, aio.Uring, aio.Pool:
	default:
		usage(fmt.Sprintf("unknown -backend %q (want auto, uring or pool)", *backend))
	}
	if err := run(*src, *dst, *chunk, *inflight, b); err != nil {
		fmt.Fprintln(os.Stderr, "files:", err)
		os.Exit(1)
	}
}

func run(src, dst string, chunk, inflight int, backend aio.Backend) error {
	a, err := aio.New(aio.WithBackend(backend))
	if err != nil {
		return err
	}
	defer a.Close()
	in, err := a.Open(src, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	// Opening dst truncates it: a copy onto the source itself (or a link to it) would destroy it.
	if dt, err := os.Stat(dst); err == nil && os.SameFile(st, dt) {
		return fmt.Errorf("%s and %s are the same file", src, dst)
	}
	out, err := a.Open(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer out.Close()

	ctx := context.Background()
	size := st.Size()
	// No buffer larger than the file: -chunk is a bound, and a file smaller than it (or a large
	// -chunk) must not cost a chunk's memory, or more memory than there is.
	chunk = int(max(1, min(int64(chunk), size)))
	chunks := int((size + int64(chunk) - 1) / int64(chunk))
	// A ring of buffers, one per chunk in flight: a buffer is reused only once the write that
	// used it has completed.
	bufs := make([][]byte, inflight)
	copies := make([]future.Future[int], inflight)
	for i := range chunks {
		slot := i % inflight
		if i >= inflight {
			if _, err := copies[slot].Await(ctx); err != nil {
				return err
			}
		}
		if bufs[slot] == nil {
			bufs[slot] = make([]byte, chunk)
		}
		off := int64(i) * int64(chunk)
		buf := bufs[slot][:min(int64(chunk), size-off)]
		read := in.ReadAt(ctx, buf, off)
		copies[slot] = future.Then(read, nil, func(n int) future.Future[int] {
			return out.WriteAt(ctx, buf[:n], off)
		})
	}
	for _, c := range copies {
		if c != (future.Future[int]{}) {
			if _, err := c.Await(ctx); err != nil {
				return err
			}
		}
	}
	if _, err := out.Sync(ctx).Await(ctx); err != nil {
		return err
	}

	// Read both back through aio and compare.
	want, err := digest(ctx, in, size, chunk)
	if err != nil {
		return err
	}
	check, err := a.Open(dst, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer check.Close()
	got, err := digest(ctx, check, size, chunk)
	if err != nil {
		return err
	}
	verdict := "digests match"
	if got != want {
		verdict = "DIGESTS DIFFER"
	}
	fmt.Printf("copied %d bytes in %d chunks on %s; %s\n", size, chunks, a.Backend(), verdict)
	if got != want {
		return errors.New("the copy differs from the source")
	}
	return nil
}

// digest reads size bytes of f, a chunk at a time, and returns their SHA-256, checking that the file
// ends where its size says.
func digest(ctx context.Context, f *aio.File, size int64, chunk int) ([32]byte, error) {
	h := sha256.New()
	buf := make([]byte, chunk)
	for off := int64(0); off < size; off += int64(chunk) {
		n, err := f.ReadAt(ctx, buf[:min(int64(chunk), size-off)], off).Await(ctx)
		if err != nil {
			return [32]byte{}, err
		}
		h.Write(buf[:n])
	}
	if n, err := f.ReadAt(ctx, buf[:1], size).Await(ctx); n != 0 || err != io.EOF {
		return [32]byte{}, fmt.Errorf("%s: more than %d bytes, or no end: %d, %v", f.Name(), size, n, err)
	}
	return [32]byte(h.Sum(nil)), nil
}
