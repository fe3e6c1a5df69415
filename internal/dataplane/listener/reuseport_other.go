//go:build !(aix || darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package listener

import "syscall"

// reusePortSupported reports whether SO_REUSEPORT can be set here.
const reusePortSupported = false

func setReusePort(_, _ string, _ syscall.RawConn) error { return nil }
