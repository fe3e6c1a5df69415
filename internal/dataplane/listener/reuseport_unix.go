//go:build aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd

package listener

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// reusePortSupported reports whether SO_REUSEPORT can be set here.
const reusePortSupported = true

// setReusePort sets SO_REUSEPORT on a socket before it is bound, so that
// another process (a new version of the gateway) can bind the same
// address while this one still listens; the kernel then spreads new
// connections over both.
func setReusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
