package aio_test

import (
	"fmt"

	"github.com/eddyio/eddy/aio"
)

// The options size the backends: WithQueueDepth the operations the io_uring backend keeps in the
// kernel at once, WithWorkers the goroutines of the pool backend. New checks them.
func ExampleWithQueueDepth() {
	a, err := aio.New(aio.WithQueueDepth(64), aio.WithWorkers(16))
	if err != nil {
		fmt.Println(err)
		return
	}
	a.Close()
	_, err = aio.New(aio.WithQueueDepth(0))
	fmt.Println(err)
	// Output: aio: queue depth 0 out of range [1, 32768]
}
