package listener

import (
	"context"
	"net"
)

// Listen binds a TCP address, with SO_REUSEPORT when reusePort is set and
// the platform has it. The admin and status ports use it too, so that a
// new gateway process can bind every port of the old one.
func Listen(addr string, reusePort bool) (net.Listener, error) {
	var lc net.ListenConfig
	if reusePort && reusePortSupported {
		lc.Control = setReusePort
	}
	return lc.Listen(context.Background(), "tcp", addr)
}
