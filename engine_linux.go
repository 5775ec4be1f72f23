package eddy

import "fmt"

// newImpl picks the engine for e.opts.engine on Linux: auto and epoll give the epoll engine, std the
// portable one.
func newImpl(e *Engine) (EngineKind, impl, error) {
	switch e.opts.engine {
	case EngineAuto, EngineEpoll:
		return EngineEpoll, newEpollEngine(e), nil
	case EngineStd:
		return EngineStd, newStdEngine(e), nil
	}
	return "", nil, fmt.Errorf("eddy: engine %q: %w", e.opts.engine, ErrUnsupported)
}
