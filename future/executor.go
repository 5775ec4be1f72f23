package future

import "github.com/eddyio/eddy/internal/ownexec"

// Executor decides where a continuation runs. Execute must eventually call fn exactly once;
// it may call it before returning (Inline), on a worker (pool.Pool), or on an event loop.
// An Executor that drops fn leaves the future that waits for it pending forever.
type Executor interface {
	Execute(fn func())
}

// ExecutorFunc adapts a function to the Executor interface, as http.HandlerFunc does for
// handlers: ExecutorFunc(f).Execute(fn) calls f(fn).
type ExecutorFunc func(fn func())

// Execute calls f(fn).
func (f ExecutorFunc) Execute(fn func()) { f(fn) }

type inline struct{}

func (inline) Execute(fn func()) { fn() }

// Inline runs each continuation at once, on the goroutine that completes the future, or on
// the goroutine that adds the continuation when the future is already complete. It suits
// short, non-blocking continuations. A nil Executor given to this package means Inline.
var Inline Executor = inline{}

func orInline(exec Executor) Executor {
	if exec == nil {
		return Inline
	}
	return exec
}

// execute runs body on exec. body runs under dst.guard, and a panic or runtime.Goexit in
// exec.Execute itself also fails dst, so dst completes whatever goes wrong (unless exec drops body).
//
// guard recovers a panic, but a runtime.Goexit goes on unwinding, out of guard, into whatever runs
// body: a pool.Pool would report it to its panic handler too, after dst has. So a pool is given
// body through ownexec, as a function that reports its own Goexit (see package ownexec).
func execute[T any](exec Executor, dst *state[T], body func()) {
	normal := false
	defer func() {
		if !normal {
			// A panic in Execute, or a runtime.Goexit (recover returns nil).
			dst.fail(recovered(recover()))
		}
	}()
	fn := func() { dst.guard(body) }
	if own := ownexec.Execute; own == nil || !own(exec, fn) {
		exec.Execute(fn)
	}
	normal = true
}
