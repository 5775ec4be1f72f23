// Package aio is eddy's asynchronous file I/O: reads, writes and syncs of files that return a
// future.Future instead of blocking the calling goroutine, and that do not park an OS thread per
// operation in flight. An IO runs the operations on one of two backends: io_uring on Linux (one ring,
// driven by one goroutine locked to its thread; a read that the page cache answers completes without a
// thread switch, one that waits for the disk waits in the kernel's own workers), or a bounded pool of
// goroutines making ordinary positioned reads and writes, which works everywhere. New picks io_uring
// when the kernel allows it and the pool otherwise; WithBackend chooses.
//
// The contract of every operation is the one of package os, whatever the backend: ReadAt and WriteAt
// follow io.ReaderAt and io.WriterAt (a result shorter than the buffer always comes with an error,
// io.EOF at the end of the file), and errors are *os.PathError values that wrap the errno. An
// operation's buffer belongs to the operation until its future completes: do not read or write it
// before then. Cancelling the context given to an operation, or its future (Future.Cancel), asks the
// backend to stop it; the future then completes with the context's error and the bytes done so far.
// io_uring can stop an operation that waits (on a pipe, say); the pool stops one that has not
// started yet, and lets a running one finish.
//
// The package is named aio, not fs as the design sketch had it, so that it does not shadow io/fs in
// the programs that use both.
package aio
