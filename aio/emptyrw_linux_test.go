//go:build linux

package aio_test

import (
	"context"
	"os"
	"testing"

	"github.com/eddyio/eddy/aio"
)

// os.File.ReadAt and WriteAt with an empty buffer return 0, nil on any open file (their loop makes no
// system call), and so do aio's; they failed with ESPIPE on a pipe (found by a review).
func TestEmptyReadAtOfPipe(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pw.Close()
		defer pr.Close()
		on, oerr := pr.ReadAt(nil, 0)
		f, _ := pipeFile(t, a, true)
		n, err := await(t, f.ReadAt(context.Background(), nil, 0))
		if n != on || err != oerr {
			t.Errorf("empty ReadAt of a pipe = %d, %v; os.File.ReadAt gives %d, %v", n, err, on, oerr)
		}
	})
}
