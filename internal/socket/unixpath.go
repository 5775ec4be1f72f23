package socket

import "runtime"

// UnixPathMax returns the longest socket path the system's sockaddr_un takes for path: its sun_path
// less the terminating NUL, 107 bytes on Linux and Windows and 103 on macOS and the BSDs, and on Linux
// one more for an abstract name ("@name"), which has no terminating NUL. path is not empty. The
// engine's address parser and cmd/eddy's both refuse a longer path with it, before anything starts.
func UnixPathMax(path string) int {
	switch runtime.GOOS {
	case "darwin", "ios", "freebsd", "netbsd", "openbsd", "dragonfly":
		return 103
	case "linux", "android":
		if path[0] == '@' {
			return 108
		}
	}
	return 107
}
