//go:build !unix

package eddy

import "os"

// dupFile returns f itself where descriptors cannot be duplicated portably: the engine uses the caller's
// file, which must stay open until the SendFile callback runs.
func dupFile(f *os.File) (*os.File, bool, error) { return f, false, nil }
