package socket

import "runtime"

// UnixPathMax returns the longest socket path the system's sockaddr_un takes for path: its sun_path
// less the terminating NUL, 107 bytes on Linux and Windows and 103 on macOS and the BSDs. path is not
// empty. The engine's address parser and cmd/eddy's both refuse a longer path with it, before
// anything starts.
//
// An abstract name ("@name") has no terminating NUL, and the kernel and package net take one of 108
// bytes, but golang.org/x/sys/unix, through which the epoll and uring engines bind and connect,
// refuses a name that fills sun_path whatever it is (EINVAL at Start or Dial): the limit is the one
// every engine can keep.
func UnixPathMax(path string) int {
	switch runtime.GOOS {
	case "darwin", "ios", "freebsd", "netbsd", "openbsd", "dragonfly":
		return 103
	}
	return 107
}
