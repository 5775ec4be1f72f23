//go:build unix

package aio_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/eddyio/eddy/aio"
)

// A File takes one Read at a time (and one Write): reads at the current position are ordered only
// by waiting for one before asking for the next, so a second Read asked while the first waits fails
// at once with ErrInFlight, in an *os.PathError, and the first goes on.
func ExampleFile_Read_inFlight() {
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

	first := f.Read(context.Background(), make([]byte, 64)) // waits: nothing written yet
	_, err = f.Read(context.Background(), make([]byte, 64)).Await(context.Background())
	var pe *os.PathError
	fmt.Println(errors.Is(err, aio.ErrInFlight), errors.As(err, &pe) && pe.Op == "read")

	pw.Write([]byte("hello"))
	n, err := first.Await(context.Background())
	fmt.Println("the first Read:", n, err)
	// Output:
	// true true
	// the first Read: 5 <nil>
}
