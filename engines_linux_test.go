package eddy_test

import "github.com/eddyio/eddy"

func testEngines() []eddy.EngineKind {
	return []eddy.EngineKind{eddy.EngineEpoll, eddy.EngineUring, eddy.EngineStd}
}
