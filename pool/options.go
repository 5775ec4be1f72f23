package pool

import (
	"log"
	"runtime"
	"time"
)

// Defaults for the options that are not given to New.
const (
	// DefaultQueueSize is the capacity of the queue of waiting tasks.
	DefaultQueueSize = 1024

	// DefaultIdleTimeout is how long a worker above the minimum waits for a task before it exits.
	DefaultIdleTimeout = time.Second
)

// Option configures a Pool in New.
type Option func(*config)

type config struct {
	minWorkers int
	maxWorkers int
	queueSize  int
	idle       time.Duration
	onPanic    func(value any, stack []byte)
}

func defaultConfig() config {
	return config{
		maxWorkers: runtime.GOMAXPROCS(0),
		queueSize:  DefaultQueueSize,
		idle:       DefaultIdleTimeout,
		onPanic:    logPanic,
	}
}

// normalize makes every value usable: at least one worker, min <= max, a queue size >= 0.
func (c *config) normalize() {
	c.maxWorkers = max(c.maxWorkers, 1)
	c.minWorkers = min(max(c.minWorkers, 0), c.maxWorkers)
	c.queueSize = max(c.queueSize, 0)
	if c.onPanic == nil {
		c.onPanic = logPanic
	}
}

// WithWorkers sets the maximum number of workers, the tasks that can run at once.
// The default is runtime.GOMAXPROCS(0); values below 1 mean 1.
func WithWorkers(n int) Option {
	return func(c *config) { c.maxWorkers = n }
}

// WithMinWorkers sets how many workers New starts and the pool keeps when idle. The default is
// 0 (an idle pool holds no goroutine); a minimum equal to the maximum makes a fixed pool, whose
// workers never expire. It is capped at the maximum.
func WithMinWorkers(n int) Option {
	return func(c *config) { c.minWorkers = n }
}

// WithIdleTimeout sets how long a worker above the minimum stays without a task before it
// exits; it exits between once and twice that long after its last task. Zero or less keeps
// every worker until Stop. The default is DefaultIdleTimeout.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) { c.idle = d }
}

// WithQueueSize sets the capacity of the queue of tasks waiting for a worker. With 0, a task is
// accepted only when a worker is free to take it at once. The default is DefaultQueueSize.
func WithQueueSize(n int) Option {
	return func(c *config) { c.queueSize = n }
}

// WithPanicHandler sets the function that receives the value and the stack of a panic in a
// task (for runtime.Goexit, the value is future.ErrGoexit). It runs on the worker, which goes on
// with the next task afterwards; a panic in the handler itself is logged. The default handler
// logs the panic with the standard logger. The panics and Goexits of Go's functions and of the
// continuations that package future runs on the pool are not given to it: they are reported on
// their futures (see Execute).
func WithPanicHandler(fn func(value any, stack []byte)) Option {
	return func(c *config) { c.onPanic = fn }
}

func logPanic(value any, stack []byte) {
	log.Printf("pool: panic in task: %v\n%s", value, stack)
}
