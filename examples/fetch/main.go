// Command fetch downloads several http:// URLs at once over eddy's HTTP client and prints, in the order
// given, the status, the size and a SHA-256 of each body. It shows the client's asynchronous side:
// every request is a future from Transport.RoundTripAsync, sent without a goroutine of its own; the
// body of each response is read on a bounded worker pool (pool.Pool) as a continuation of that future;
// future.WithTimeout bounds each download and future.AllSettled gathers the outcomes.
//
//	go run ./examples/fetch -timeout 10s http://127.0.0.1:8080/a http://127.0.0.1:8080/b
//
// Each URL gets its line, also when the timeout passes. It exits with status 1 if any URL failed (the
// line says why), 2 on a bad command line.
package main

import (
	"context"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/pool"
)

// fetched is what one URL gave.
type fetched struct {
	status string
	size   int64
	sum    [sha256.Size]byte
}

func main() { os.Exit(run()) }

// run does the job and returns the exit status.
func run() int {
	engine := flag.String("engine", "", "eddy engine of the client: epoll, uring, std (default: the Transport's)")
	perHost := flag.Int("conns", 4, "connections per host at most; further requests wait for one")
	readers := flag.Int("readers", 4, "bodies read at once")
	timeout := flag.Duration("timeout", 10*time.Second, "deadline for the whole job")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: fetch [-engine E] [-conns N] [-readers N] [-timeout D] URL...")
		return 2
	}

	kind := eddy.EngineKind("") // the Transport's default
	if *engine != "" {
		k, err := eddy.ParseEngineKind(*engine)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fetch:", err)
			return 2
		}
		kind = k
	}
	tr := &http1.Transport{Engine: kind, MaxConnsPerHost: *perHost}
	defer tr.Close()
	// Room in the queue for every URL: pool.Go, called on the client's loop below, then never waits
	// for room, which would block the loop that feeds the bodies the workers are reading.
	readPool := pool.New(pool.WithWorkers(*readers), pool.WithQueueSize(flag.NArg()))
	defer readPool.Stop(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	jobs := make([]future.Future[fetched], flag.NArg())
	for i, u := range flag.Args() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			jobs[i] = future.Failed[fetched](err)
			continue
		}
		// The head arrives on the client's loop; the body is read on the pool, which must not be the
		// loop (reading blocks).
		job := future.Then(tr.RoundTripAsync(req), nil, func(resp *http.Response) future.Future[fetched] {
			read := pool.Go(readPool, ctx, func(context.Context) (fetched, error) { return readBody(resp) })
			// A read cancelled before a worker took it (ctx ended, the pool stopped) never runs
			// readBody: close the body here, or its connection stays taken. Close does not block, and
			// a second Close (after readBody's) does nothing.
			return future.Catch(read, nil, func(err error) (fetched, error) {
				resp.Body.Close()
				return fetched{}, err
			})
		})
		// ctx already bounds the request and the reading of its body; WithTimeout is the backstop
		// that also bounds the wait for a place in the pool. It bounds each job and not their
		// AllSettled, so that a timeout fails only the URLs not done by then, each on its line.
		jobs[i] = future.WithTimeout(job, *timeout)
	}
	// AllSettled never fails: its outcomes hold each job's error, and every job ends by the timeout.
	outcomes, err := future.AllSettled(jobs...).Await(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, "fetch:", err)
		return 1
	}
	failed := false
	for i, o := range outcomes {
		if o.Err != nil {
			failed = true
			fmt.Printf("%s: error: %v\n", flag.Arg(i), o.Err)
			continue
		}
		f := o.Value
		fmt.Printf("%s: %s, %d bytes, sha256 %x\n", flag.Arg(i), f.status, f.size, f.sum[:8])
	}
	if failed {
		return 1
	}
	return 0
}

// readBody reads and closes the body of resp.
func readBody(resp *http.Response) (fetched, error) {
	defer resp.Body.Close()
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		return fetched{}, fmt.Errorf("after %d bytes of the body: %w", n, err)
	}
	f := fetched{status: resp.Status, size: n}
	h.Sum(f.sum[:0])
	return f, nil
}
