//go:build !linux

package testengines

import "github.com/eddyio/eddy"

const hasUring = false

var (
	all          = []eddy.EngineKind{eddy.EngineStd}
	withoutUring = all
)

func uringUnavailable() string { return "" }
