//go:build unix

package aio_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/eddyio/eddy/aio"
)

// Close stops the operations in flight: their futures fail with ErrClosed, in an *os.PathError that
// names the operation and the file, and so does whatever is asked of the IO afterwards. ErrClosed
// matches os.ErrClosed too, so code written for package os's errors needs no change.
func ExampleIO_Close() {
	a, err := aio.New()
	if err != nil {
		log.Fatal(err)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		log.Fatal(err)
	}
	defer pw.Close()
	f, err := a.NewFile(pr) // f owns pr now; a.Close closes it
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	read := f.Read(ctx, make([]byte, 64)) // waits: nothing written yet
	a.Close()
	_, err = read.Await(ctx)
	var pe *os.PathError
	fmt.Println("stopped read:", errors.Is(err, aio.ErrClosed), errors.Is(err, os.ErrClosed), errors.As(err, &pe) && pe.Op == "read")

	_, err = a.Open(filepath.Join(os.TempDir(), "never-created"), os.O_RDWR|os.O_CREATE, 0o644)
	fmt.Println("later open:", errors.Is(err, aio.ErrClosed), errors.As(err, &pe) && pe.Op == "open")
	// Output:
	// stopped read: true true true
	// later open: true true
}
