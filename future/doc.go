// Package future is eddy's promise/future model: a Future[T] is a value or an error that becomes
// available once, completed through a Promise[T] or by a function run with Go, GoOn or pool.Go,
// and composed with Map, Then, Catch, Handle, All, AllSettled, Any, Race, WithTimeout and WithContext.
// Every continuation runs on an Executor that the caller chooses (Inline, a pool.Pool, or an
// engine loop), so a result can be delivered back to the loop that asked for it without locks.
//
// # Waiting on an event loop
//
// Await, like any blocking wait (a receive from Done, a select), blocks its goroutine. On the
// goroutine of an eddy event loop (a function the loop runs: a continuation given the loop as its
// Executor, a Loop.AfterFunc callback and, on the epoll and uring engines, every callback of the
// connections the loop serves, Conn.Execute's included), it blocks the loop, and then nothing that
// needs that loop can complete the awaited future: a continuation given the loop as its Executor
// waits in the loop's queue (Loop.Execute queues fn even when called on the loop itself), an
// eddy.Sleep on that loop resolves from the loop's timers, a promise that one of the loop's
// callbacks would complete is never completed. Await then returns only when its ctx ends, with
// ctx.Err() (never, with context.Background()), and the loop serves none of its connections
// meanwhile. An Inline continuation of a future completed on the loop runs on the loop too, and
// must not wait either. On a loop, do not wait: chain the rest of the work with Map, Then, Catch or Handle,
// the loop as the Executor, and return.
//
// # Design notes
//
// A future is a pointer to one shared state. Its phase moves pending -> completing -> done through
// one atomic word: the single winner of the pending -> completing transition writes the value and
// the error, then publishes them by storing done. Readers load the phase and, once it is done, read
// the value and the error with no lock and no allocation (Result, Resolved, and Await of a completed
// future cost a load and a compare). Continuations wait in a doubly linked list, in registration
// order, guarded by a small mutex per future; completion swaps the list for a sealed sentinel and
// runs what it took in that order, and a continuation added after that sees the sentinel and runs
// at once, so each runs exactly once. A continuation can also be taken off the list: a combinator
// whose result completes before one of its inputs (a timeout, a context, another input winning)
// takes its continuations off the inputs still pending before anyone can see the result complete,
// so that a long-lived future holds nothing of the calls that gave up on it.
// The channel behind Done is made only when someone asks for it and is closed on completion.
// A continuation that only passes an outcome on (Then following the future of its step, Map and
// Catch or Handle with Inline, a failure running down a chain, an input completing All, Any, Race or
// AllSettled) hands the continuations of the future it completed back to the loop that runs the
// list, which runs them next: a chain of any length, such as an asynchronous loop written as
// recursion through Then, or f = Race(f, g) over and over, completes in constant stack
// space, where each future would otherwise run the next one's continuations a few frames deeper.
// A combinator that settles early (All on a failure, Any on a success, Race) completes its
// result, cancels the inputs it no longer needs, and only then hands the result's continuations on.
// What such a loop cannot avoid is holding one future per pending step until its last step
// completes: for a loop of unbounded length, block in a goroutine (Go, or a pool) instead.
//
// Cancellation travels through context.Context. A future made by Go, GoOn, pool.Go or a promise
// from NewPromiseContext owns a context; Future.Cancel cancels it, and that context is also
// released when the future completes; a promise from NewPromiseFunc calls a function of the
// producer's instead, for one that keeps its own record (package aio does). Derived futures forward Cancel to their sources (in a loop:
// cancelling a chain of any length takes constant stack space too), and the combinators cancel
// the inputs they no longer need: All on the first error, Any on the first
// success, Race on the first result, WithTimeout and WithContext when they give up. Cancel is a
// request: the producer decides when to stop, and its future still completes, usually with the
// context's error. A future shared by several consumers is cancelled for all of them. A complete
// future, which Cancel no longer affects, drops what Cancel would have reached (its context, its
// sources): holding it keeps its value alive, and nothing of the futures it was made from. A nil
// context, wherever a function of this package takes one, is context.Background(): no bound.
//
// A panic in a function that produces a value (Go, GoOn, Promise.Run, Map, Then, Catch, Handle), in an
// Executor's Execute or in the cancel function of a NewPromiseFunc promise becomes a *PanicError on the
// future, with the panic value and the stack; a call to runtime.Goexit becomes ErrGoexit. Nothing that
// the package runs can crash the program through a panic. A panic is recovered, so the Executor that
// ran the function sees it return; a Goexit cannot be stopped and still ends the goroutine, through the
// Executor's code: a pool.Pool given as the Executor knows the function for a continuation and does not
// report its Goexit a second time, while another Executor that reports the Goexits of what it runs
// would.
package future
