//go:build linux

package eddy_test

import (
	"fmt"
	"net/netip"
	"syscall"
)

// connectCycle makes one connection to the TCP address addr (ip:port) and closes it, with blocking
// system calls and nothing of package net: TestNoDescriptorLeakAfterManyConnections makes 10,000 of
// them, and under -race a net.Dial (resolver, poller registration, deadlines) costs more CPU than the
// server's side of the cycle it tests. mode 0 echoes one byte first, 1 closes with data in flight (the
// server's echo meets a closed socket), 2 closes at once. Every step is bounded by 5 s.
func connectCycle(addr string, mode int) error {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return err
	}
	var sa syscall.Sockaddr
	family := syscall.AF_INET
	if ap.Addr().Is4() {
		sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		family = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	tv := syscall.Timeval{Sec: 5}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		return err
	}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv); err != nil {
		return err // also bounds connect
	}
	for {
		if err = syscall.Connect(fd, sa); err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	switch mode {
	case 0:
		if _, err := syscall.Write(fd, []byte{1}); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		var b [1]byte
		for {
			n, err := syscall.Read(fd, b[:])
			if err == syscall.EINTR {
				continue
			}
			if err != nil || n != 1 {
				return fmt.Errorf("echo: %d bytes, %v", n, err)
			}
			return nil
		}
	case 1:
		syscall.Write(fd, []byte("unread"))
	}
	return nil
}
