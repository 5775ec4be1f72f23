//go:build !linux

package eddy_test

// benchServerEnv names the pinned echo server mode of the test binary, which exists only on Linux.
const benchServerEnv = "EDDY_BENCH_SERVER"

func runBenchServer() int { return 0 }
