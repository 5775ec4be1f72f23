//go:build !linux

package etls_test

import "github.com/eddyio/eddy"

// testEngines lists the engines every test runs on: the portable one off Linux.
func testEngines() []eddy.EngineKind { return []eddy.EngineKind{eddy.EngineStd} }
