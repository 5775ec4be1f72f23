// Package raceio gives the race detector the happens-before edges that data through a socket make
// with package net, for the I/O that eddy's engines do without package syscall's Read and Write.
//
// syscall.Write releases, and a successful syscall.Read acquires, one synchronisation object of the
// race detector (syscall's ioSync), so that under -race whatever a goroutine did before writing to a
// socket happens before whatever the goroutine that reads the bytes does after: a test that sets a
// variable and then sends a request to a server on package net sees no race. eddy's loops read and
// write through raw system calls and io_uring, which carry no such annotation, and the same test run
// against an eddy server was reported as a race (TestSocketHappensBefore). Acquire and Release make the
// same edges, through a syscall.Read and a syscall.Write of nothing on /dev/null, since syscall's
// object is not reachable otherwise. They are empty functions, inlined away, without -race. Package
// aio uses them for the reads and writes it makes through io_uring (TestPipeHappensBefore), and
// syscall's Pread and Pwrite, which carry the edges themselves, for those it makes with system calls.
package raceio
