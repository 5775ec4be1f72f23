// Package ownexec lets package future hand a continuation to a pool.Pool as a function that
// reports its own end, without exported API on either side.
//
// A continuation that package future runs on an Executor (Map, Then, Catch, Handle, GoOn) turns a
// panic in it into a *future.PanicError and a runtime.Goexit into future.ErrGoexit on its future.
// A panic stops there (recovered), but a Goexit cannot be stopped: it goes on unwinding into
// whatever runs the continuation, and a pool, which reports a task's Goexit to its panic handler
// and counts it in Stats.Panics, reported it a second time. Execute tells the pool that the
// function reports its own Goexit, as pool.Go's tasks do.
package ownexec

// Execute, when set, runs fn on exec as a function that handles its own panics and reports its own
// runtime.Goexit, so that exec must not report them as well, and returns true; it returns false,
// without running fn, when exec is not an Executor it knows (the caller then calls exec's Execute).
// fn is not nil. Package pool sets it in its init, for *pool.Pool; it is not changed afterwards.
var Execute func(exec any, fn func()) bool
