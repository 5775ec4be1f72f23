//go:build !linux

package http1_test

import "github.com/eddyio/eddy"

// testEngines lists the engines every server test runs on: the portable one off Linux.
func testEngines() []eddy.EngineKind { return []eddy.EngineKind{eddy.EngineStd} }
