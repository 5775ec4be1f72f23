package eddy

import (
	"fmt"

	"github.com/eddyio/eddy/internal/uring"
)

// newImpl picks the engine for e.opts.engine on Linux. auto gives the uring engine when io_uring is
// usable by this process (uring.Available) and the epoll engine otherwise, logging why; uring gives the
// uring engine or an error that wraps ErrUnsupported and the cause; epoll and std give those engines.
func newImpl(e *Engine) (EngineKind, impl, error) {
	switch e.opts.engine {
	case EngineAuto:
		if err := uring.Available(); err != nil {
			e.opts.logger.Info("eddy: engine auto: using epoll, io_uring is unavailable", "reason", err)
			return EngineEpoll, newEpollEngine(e), nil
		}
		e.opts.logger.Debug("eddy: engine auto: using io_uring")
		return EngineUring, newUringEngine(e), nil
	case EngineEpoll:
		return EngineEpoll, newEpollEngine(e), nil
	case EngineUring:
		if err := uring.Available(); err != nil {
			return "", nil, uringUnavailable(err)
		}
		return EngineUring, newUringEngine(e), nil
	case EngineStd:
		return EngineStd, newStdEngine(e), nil
	}
	return "", nil, fmt.Errorf("eddy: engine %q: %w", e.opts.engine, ErrUnsupported)
}
