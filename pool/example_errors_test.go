package pool_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/eddyio/eddy/pool"
)

// A stopped pool takes no more work: Submit, TrySubmit and Go fail with ErrStopped, and the task
// does not run. Execute, which never loses its function, runs it on the caller instead.
func ExamplePool_Submit_stopped() {
	p := pool.New()
	p.Stop(context.Background())

	err := p.Submit(context.Background(), func() { fmt.Println("never runs") })
	fmt.Println("Submit:", errors.Is(err, pool.ErrStopped))
	err = p.TrySubmit(func() { fmt.Println("never runs") })
	fmt.Println("TrySubmit:", errors.Is(err, pool.ErrStopped))
	_, err = pool.Go(p, context.Background(), func(context.Context) (int, error) {
		return 1, nil
	}).Await(context.Background())
	fmt.Println("Go:", errors.Is(err, pool.ErrStopped))
	p.Execute(func() { fmt.Println("Execute: ran on the caller") })
	// Output:
	// Submit: true
	// TrySubmit: true
	// Go: true
	// Execute: ran on the caller
}
