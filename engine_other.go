//go:build !linux

package eddy

import "fmt"

// newImpl picks the engine for e.opts.engine where epoll does not exist: auto and std give the portable
// engine; the Linux engines are an error that says so.
func newImpl(e *Engine) (EngineKind, impl, error) {
	switch e.opts.engine {
	case EngineAuto, EngineStd:
		return EngineStd, newStdEngine(e), nil
	}
	return "", nil, fmt.Errorf("eddy: engine %q needs Linux: %w", e.opts.engine, ErrUnsupported)
}
