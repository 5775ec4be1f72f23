package etls_test

import "github.com/eddyio/eddy"

// testEngines lists the engines every test runs on.
func testEngines() []eddy.EngineKind {
	return []eddy.EngineKind{eddy.EngineEpoll, eddy.EngineUring, eddy.EngineStd}
}
