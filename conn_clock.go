package eddy

import (
	"time"

	"github.com/eddyio/eddy/internal/timer"
)

// connClock is the timer of a loop engine's connection (epoll, uring), with what it needs to decide. It
// is allocated when the connection gets an idle timeout or starts closing (or, on uring, must retry a
// cancellation), so that an idle connection without a timeout does not carry it: a 64-byte timer and
// two clocks would be a third of the connection.
type connClock struct {
	timer       timer.Timer   // the idle timeout while open, then the close and linger deadlines
	idleTimeout time.Duration // 0: none
	lastActive  int64         // wheel clock of the last read or write progress

	flush flushWatch // while a graceful close waits for its flush: is the peer reading? (wheel clock)
}
