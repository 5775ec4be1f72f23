//go:build !linux

package eddy_test

import (
	"io"
	"net"
	"time"
)

// connectCycle makes one connection to addr and closes it (see the Linux version): mode 0 echoes one
// byte first, 1 closes with data in flight, 2 closes at once.
func connectCycle(addr string, mode int) error {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	switch mode {
	case 0:
		c.Write([]byte{1})
		_, err = io.ReadFull(c, make([]byte, 1))
		return err
	case 1:
		c.Write([]byte("unread"))
	}
	return nil
}
