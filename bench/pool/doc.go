// Package pool compares eddy's worker pool with github.com/panjf2000/ants/v2 and with one
// goroutine per task. It holds only benchmarks: run them from the bench module with
//
//	go test -run=NONE -bench=. -benchmem -count=3 ./pool/
//
// Every contender runs the same batch of 1,000,000 tiny tasks per operation (one closure,
// made once, that marks a sync.WaitGroup done) with the same number of workers, and each
// operation waits for the whole batch. ns/task is the operation's time divided by the batch.
package pool
