package future_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	"github.com/eddyio/eddy/future"
)

// Any and Race need something to choose from: given no futures, as when the list of mirrors to
// try came out empty, they fail at once with ErrNoFutures.
func ExampleAny_noFutures() {
	var mirrors []future.Future[string] // none configured
	_, err := future.Any(mirrors...).Result()
	fmt.Println(errors.Is(err, future.ErrNoFutures))
	_, err = future.Race(mirrors...).Result()
	fmt.Println(err)
	// Output:
	// true
	// future: no futures
}

// A function that ends its goroutine with runtime.Goexit (as testing.T.FailNow does) instead of
// returning does not leave its future pending for ever: the future fails with ErrGoexit.
func ExampleGo_goexit() {
	f := future.Go(context.Background(), func(context.Context) (int, error) {
		runtime.Goexit()
		return 1, nil // never reached
	})
	_, err := f.Await(context.Background())
	fmt.Println(errors.Is(err, future.ErrGoexit))
	// Output: true
}
