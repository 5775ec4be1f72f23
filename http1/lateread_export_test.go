package http1

// SetBodyReadHook makes f run in every request body Read, between its check for a closed body and
// its automatic 100 Continue, until restore.
func SetBodyReadHook(f func()) (restore func()) {
	bodyReadHook.Store(&f)
	return func() { bodyReadHook.Store(nil) }
}
