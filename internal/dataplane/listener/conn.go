package listener

import (
	"net"
	"net/netip"
	"sync"
)

// trackedConn counts a connection as active from accept until it is
// closed, whoever closes it (net/http, the TCP proxy, a hijacking
// handler, or a failed handshake), so drain can wait for zero.
type trackedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *trackedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// CloseWrite keeps half-close working for the TCP proxy.
func (c *trackedConn) CloseWrite() error { return closeWrite(c.Conn) }

// proxiedConn is a connection whose PROXY protocol header has been read:
// it reports the header's addresses and replays the bytes read past the
// header.
type proxiedConn struct {
	net.Conn
	prefix        []byte
	remote, local net.Addr
}

func (c *proxiedConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// RemoteAddr is the PROXY header's source: the client of the load
// balancer, which everything after (X-Forwarded-For, access logs,
// source-IP hashing) takes as the downstream address.
func (c *proxiedConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

// LocalAddr is the PROXY header's destination: the address the client
// connected to at the load balancer.
func (c *proxiedConn) LocalAddr() net.Addr {
	if c.local != nil {
		return c.local
	}
	return c.Conn.LocalAddr()
}

func (c *proxiedConn) CloseWrite() error { return closeWrite(c.Conn) }

type closeWriter interface{ CloseWrite() error }

// closeWrite half-closes c when it can, else closes it.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// addrPort converts a net.Addr to an AddrPort; a non-IP address (a unix
// socket) gives the zero value.
func addrPort(a net.Addr) netip.AddrPort {
	switch t := a.(type) {
	case *net.TCPAddr:
		ap := t.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	case nil:
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
