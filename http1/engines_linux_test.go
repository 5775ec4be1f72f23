package http1_test

import "github.com/eddyio/eddy"

// testEngines lists the engines every server test runs on. Add eddy.EngineUring here when the
// uring engine lands.
func testEngines() []eddy.EngineKind { return []eddy.EngineKind{eddy.EngineEpoll, eddy.EngineStd} }
