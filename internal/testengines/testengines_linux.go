package testengines

import (
	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/internal/uring"
)

const hasUring = true

var (
	all          = []eddy.EngineKind{eddy.EngineEpoll, eddy.EngineUring, eddy.EngineStd}
	withoutUring = []eddy.EngineKind{eddy.EngineEpoll, eddy.EngineStd}
)

func uringUnavailable() string {
	if err := uring.Available(); err != nil {
		return err.Error()
	}
	return ""
}
