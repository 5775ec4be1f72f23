package http1

import "github.com/eddyio/eddy"

// SetAckHook makes f run on the loop before each acknowledgement of a response's write (or file
// region) on the connections whose first net/http request comes while it is set, until restore.
func SetAckHook(f func(eddy.Conn)) (restore func()) {
	ackHook.Store(&f)
	return func() { ackHook.Store(nil) }
}
