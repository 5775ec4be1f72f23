//go:build !unix

package http1

// processCPU is not measured here.
func processCPU() int64 { return 0 }
