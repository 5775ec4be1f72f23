//go:build !linux

package aio

// init has nothing to read where the pool backend is the only one: os.File refuses WriteAt on the files
// it opened with O_APPEND itself.
func (f *File) init() error { return nil }
