//go:build !linux

package eddy_test

const childEnv = "EDDY_TEST_CHILD"

func runChild() int { return 0 }
