// Package netpoll wraps the Linux readiness primitives the epoll engine is built on: an epoll instance
// whose events carry 64-bit tokens, and an eventfd used to wake a loop that sleeps in epoll_wait. It is a
// thin layer over golang.org/x/sys/unix that retries EINTR once, in one place, and allocates nothing.
package netpoll
