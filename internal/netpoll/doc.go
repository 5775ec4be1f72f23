// Package netpoll wraps the Linux readiness primitives the epoll engine is built on: an epoll instance
// whose events carry 64-bit tokens, and an eventfd used to wake a sleeping loop (the uring engine's loops
// use it too). It is a thin layer over golang.org/x/sys/unix that deals with EINTR itself (an interrupted
// wait reports no events; eventfd reads and writes retry) and allocates nothing.
package netpoll
