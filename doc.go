// Package eddy is an asynchronous I/O runtime: event loops that serve many connections without a goroutine
// per connection, driven by callbacks.
//
// An [Engine] owns a number of loops (by default one per core). Each loop waits on the kernel (io_uring or
// epoll on Linux, or the portable engine built on package net elsewhere), reads what arrived, and calls the
// [Handler]'s OnData with the connection, whose inbound bytes the handler inspects with [Conn.Peek],
// [Conn.Next] and [Conn.Discard]. Writes made with [Conn.Write] inside a callback are buffered and flushed
// together at the end of the loop iteration (the epoll engine flushes sooner once 32 KiB of replies wait),
// so many small writes become one system call. Other goroutines reach
// a connection through [Conn.AsyncWrite] and [Conn.Execute], which queue work onto the connection's loop.
//
// Callbacks for one connection never run concurrently, and a callback must not block: hand blocking or
// CPU-heavy work to a worker pool (package github.com/eddyio/eddy/pool) and come back with AsyncWrite.
// Submit and pool.Go wait for room in the pool's queue, and so block the loop when the pool is
// saturated: on a loop, use TrySubmit, or bound the work each connection has in flight (pausing its
// reads, SetReadPaused) below what the queue holds.
//
// A panic in a callback is not recovered: it ends the program, as in any goroutine of it. A callback
// that calls [runtime.Goexit] (testing.T.FailNow in a test's handler) on an epoll or uring loop stops
// that loop, as a Stop whose context expired would: its connections are aborted (OnClose with
// [ErrEngineStopped]), the functions queued on it still run, and later ones run on their caller
// ([Loop.Execute]); the engine's other loops go on. On the std engine, callbacks run on the
// connection's own goroutines, and a Goexit there aborts only that connection (OnClose with an error
// matching [ErrEngineStopped]).
//
// A callback, or a function run by Execute, must return its goroutine as it found it: one that locks
// it to its OS thread ([runtime.LockOSThread]) unlocks it before returning. The goroutine goes on to run
// other callbacks, of other connections too (a loop's; on the std engine, the goroutines that run
// Execute functions and AsyncWrite callbacks from other goroutines), and would run them on that thread.
//
// A minimal echo server:
//
//	type echo struct{ eddy.BaseHandler }
//
//	func (echo) OnData(c eddy.Conn) {
//		b, _ := c.Next(-1)
//		c.Write(b)
//	}
//
//	err := eddy.Serve(ctx, echo{}, []string{"tcp://127.0.0.1:9000"})
package eddy
