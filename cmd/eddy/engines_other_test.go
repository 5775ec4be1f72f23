//go:build !linux

package main

// loadEngines lists the engines the load generator is tested on.
func loadEngines() []string { return []string{"std"} }
