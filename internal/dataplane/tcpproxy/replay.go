package tcpproxy

import "net"

// Replay returns c with prefix put back in front of its unread bytes:
// reads return prefix first, then what c delivers. It is how a connection
// whose ClientHello was read to route it is handed on, to crypto/tls or to
// the upstream, as if nothing had been read.
func Replay(c net.Conn, prefix []byte) net.Conn {
	if len(prefix) == 0 {
		return c
	}
	return &replayConn{Conn: c, prefix: prefix}
}

type replayConn struct {
	net.Conn
	prefix []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(p, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes the underlying connection, so half-close works
// through a replayed connection too.
func (c *replayConn) CloseWrite() error { return closeWrite(c.Conn) }

// closeWriter is implemented by *net.TCPConn, *tls.Conn and replayConn.
type closeWriter interface {
	CloseWrite() error
}

// closeWrite half-closes c if it can, else closes it: without half-close
// the peer would never learn that no more data is coming.
func closeWrite(c net.Conn) error {
	if cw, ok := c.(closeWriter); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}
