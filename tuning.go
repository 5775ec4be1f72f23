package eddy

import "time"

// Tuning shared by the engines.
const (
	maxIovecs      = 1024                   // slices per writev (the kernel's IOV_MAX)
	acceptBackoff0 = 5 * time.Millisecond   // first pause after accept fails with EMFILE and the like
	acceptBackoffN = 500 * time.Millisecond // longest pause
	lingerTimeout  = 2 * time.Second        // how long a closing socket waits for its flush or the peer's FIN
)

// asyncWait is an AsyncWrite callback waiting for its bytes to reach the kernel.
type asyncWait struct {
	ahead int // queued bytes up to and including this write's last byte
	cb    func(Conn, error)
}
