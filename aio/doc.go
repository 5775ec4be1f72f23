// Package aio is eddy's asynchronous file I/O: reads, writes and syncs of files that return a
// future.Future instead of blocking the calling goroutine, and that do not park an OS thread per
// operation in flight. An IO runs the operations on one of two backends: io_uring on Linux, or a
// bounded pool of goroutines making ordinary positioned reads and writes, which works everywhere. New
// picks io_uring when the kernel allows it and the pool otherwise; WithBackend chooses.
//
// On io_uring the goroutine that asks for an operation submits it itself: a read that the page cache
// answers completes inside that one system call, and its future is complete when ReadAt returns. An
// operation that has to wait (for the disk) waits in the kernel, not on a Go thread, and a goroutine
// parked in the runtime's poller reaps it when it completes.
//
// The contract of every operation is the one of package os, whatever the backend: ReadAt and WriteAt
// follow io.ReaderAt and io.WriterAt (a result shorter than the buffer always comes with an error,
// io.EOF at the end of the file; the bytes done before an error are counted), errors are
// *os.PathError values that wrap the errno, and a file without positions (a pipe, a socket) fails
// ReadAt and WriteAt with ESPIPE. Read and Write work at the file's current position instead, as
// io.Reader and io.Writer, for pipes, sockets and terminals, where they wait for data or room without
// holding a goroutine (on io_uring), as well as for regular files. An operation's buffer belongs to
// the operation until its future completes: do not read or write it before then. Cancelling the
// context given to an operation, or its future (Future.Cancel), asks the backend to stop it; the
// future then completes with the context's error and the bytes done so far. io_uring can stop an
// operation that waits for data or room (a pipe, a socket) or in line, not a read or write of a
// regular file the disk or page cache is already serving, which completes in full; the pool stops one
// that has not started yet, and a Read or Write of a file the runtime polls, and lets other running
// ones finish. A timeout of the caller's own (Await with a
// shorter context) stops nothing: cancel the operation's context and wait for its future.
//
// A future completes on the goroutine that reaped its operation: the caller itself, the reaper, a pool
// worker, or a goroutine that closes the file. Continuations on future.Inline run there and, as that
// executor's contract says, must be short and must not block (closing the file or the IO is fine:
// Close waits only for operations to end, never for futures); give Then and Map an executor, a
// pool.Pool for one, for anything longer.
//
// The package is named aio, not fs as the design sketch had it, so that it does not shadow io/fs in
// the programs that use both.
package aio
