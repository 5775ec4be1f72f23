//go:build unix

package aio_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/eddyio/eddy/aio"
)

// File.Read reads a pipe (or a socket, FIFO or terminal) without holding a goroutine while it waits:
// the future completes when the other end writes, and a timeout or cancellation stops the wait. (Unix
// only: on Windows a pipe's read cannot be stopped.)
func ExampleFile_Read() {
	a, err := aio.New()
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		log.Fatal(err)
	}
	defer pw.Close()
	f, err := a.NewFile(pr) // f owns pr now
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()

	buf := make([]byte, 64)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err = f.Read(ctx, buf).Await(context.Background())
	fmt.Println("nothing written:", err)

	got := f.Read(context.Background(), buf)
	pw.Write([]byte("hello"))
	n, err := got.Await(context.Background())
	fmt.Printf("%q %v\n", buf[:n], err)
	// Output:
	// nothing written: context deadline exceeded
	// "hello" <nil>
}
