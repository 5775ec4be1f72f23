package eddy_test

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/eddyio/eddy"
)

// An *OpError is a net.Error, as net.OpError is: code that asserts the interface gets Timeout and
// Temporary from the wrapped error (it had no Temporary until session 19, and the assertion failed).
func TestOpErrorIsANetError(t *testing.T) {
	for _, tc := range []struct {
		err                error
		timeout, temporary bool
	}{
		{os.NewSyscallError("connect", syscall.ETIMEDOUT), true, true},
		{os.NewSyscallError("read", syscall.ECONNRESET), false, false},
		{os.NewSyscallError("accept", syscall.EAGAIN), true, true},
		{errors.New("plain"), false, false},
	} {
		var err error = &eddy.OpError{Op: "dial", Net: "tcp", Err: tc.err}
		ne, ok := err.(net.Error)
		if !ok {
			t.Fatalf("%v is not a net.Error", err)
		}
		if ne.Timeout() != tc.timeout || ne.Temporary() != tc.temporary {
			t.Errorf("%v: Timeout %v, Temporary %v; want %v, %v", err, ne.Timeout(), ne.Temporary(), tc.timeout, tc.temporary)
		}
	}
}
