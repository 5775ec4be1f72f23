// Package uring is eddy's pure-Go binding to Linux io_uring: it sets up a ring with the best flags the
// kernel accepts, maps the submission and completion queues, prepares SQEs for the operations the uring
// engine uses (multishot accept and recv, send, timeouts, cancellation, ...), submits and waits in one
// io_uring_enter, reaps completions in batches without allocating, and manages provided-buffer rings
// whose memory is mmap'd outside the Go heap. It is the poller of one event loop: a Ring is owned by a
// single goroutine locked to its OS thread and is not safe for concurrent use. The package probes what
// the kernel offers (Available) so that the engine can fall back to epoll with a clear reason when
// io_uring is missing, disabled or blocked, as it often is in containers. On other operating systems it
// builds, and Available reports that io_uring is not supported.
//
// Ownership rule for every method that hands memory to the kernel: the caller keeps that memory alive
// and unmoved until the operation's final CQE has been reaped, even when the operation is cancelled.
// Use memory from mmap (as BufRing does), heap memory that stays referenced, or memory pinned with
// runtime.Pinner; never a value that may live on a goroutine stack, which moves when the stack grows.
package uring
