//go:build !unix

package aio

// init has nothing to read where the pool backend is the only one: os.File refuses WriteAt on the files
// it opened with O_APPEND itself.
func (f *File) init() error { return nil }

// preadFull is os.File.ReadAt here.
func (f *File) preadFull(p []byte, off int64) (int, error) { return f.osf.ReadAt(p, off) }

// pwriteFull is os.File.WriteAt here.
func (f *File) pwriteFull(p []byte, off int64) (int, error) { return f.osf.WriteAt(p, off) }

// writeNothing does nothing here: an empty Write succeeds on any open file.
func (f *File) writeNothing() error { return nil }

// rawConn is unused here.
type rawConn = any
