// Package socket opens, configures and accepts the non-blocking sockets the Linux engines use: listeners
// with SO_REUSEPORT, accept4 without allocation, TCP options, and conversions between kernel socket
// addresses and net.Addr values. Errors are *os.SyscallError values naming the system call; the engine
// wraps them in *eddy.OpError with the operation and address.
package socket
