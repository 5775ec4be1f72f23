package aio_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// Example copies a file a chunk at a time, with up to four chunks on their way at once: each
// chunk's WriteAt is chained to its ReadAt with future.Then, so reads and writes of different chunks
// overlap, and a buffer is reused only once the write that used it has completed.
func Example() {
	dir, err := os.MkdirTemp("", "aio-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	data := make([]byte, 1_000_000)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	if err := os.WriteFile(src, data, 0o644); err != nil {
		log.Fatal(err)
	}

	a, err := aio.New() // io_uring where the kernel allows it, a goroutine pool elsewhere
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	in, err := a.Open(src, os.O_RDONLY, 0)
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	out, err := a.Open(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	defer out.Close()

	st, err := in.Stat()
	if err != nil {
		log.Fatal(err)
	}
	size := st.Size()

	ctx := context.Background()
	const chunk, inflight = 64 << 10, 4
	bufs := make([][]byte, inflight)
	copies := make([]future.Future[int], inflight)
	copied, chunks := 0, 0
	for off := int64(0); off < size; off += chunk {
		slot := chunks % inflight
		if chunks >= inflight { // the slot's buffer is free once its copy is done
			n, err := copies[slot].Await(ctx)
			if err != nil {
				log.Fatal(err)
			}
			copied += n
		} else {
			bufs[slot] = make([]byte, chunk)
		}
		buf := bufs[slot][:min(chunk, size-off)] // whole chunks: no io.EOF to handle
		copies[slot] = future.Then(in.ReadAt(ctx, buf, off), nil, func(n int) future.Future[int] {
			return out.WriteAt(ctx, buf[:n], off)
		})
		chunks++
	}
	for i := range min(chunks, inflight) { // the copies still on their way
		n, err := copies[i].Await(ctx)
		if err != nil {
			log.Fatal(err)
		}
		copied += n
	}
	if _, err := out.Sync(ctx).Await(ctx); err != nil {
		log.Fatal(err)
	}
	got, err := os.ReadFile(dst)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("copied %d bytes in %d chunks; identical: %v\n", copied, chunks, bytes.Equal(got, data))
	// Output: copied 1000000 bytes in 16 chunks; identical: true
}
