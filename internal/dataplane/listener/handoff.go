package listener

import (
	"context"
	"net"
	"sync"
)

// handoff is a net.Listener fed by hand: a TLS socket's accept loop reads
// the ClientHello and completes the handshake itself (it must see the SNI
// to choose between terminating and passing through), then hands the
// *tls.Conn to an http.Server serving this listener. http.Server then sees
// a handshaken *tls.Conn, which gives requests r.TLS and HTTP/2 by ALPN.
type handoff struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// push hands c to the server. It reports false, having closed c, when the
// listener is closed or ctx ends first.
func (h *handoff) push(ctx context.Context, c net.Conn) bool {
	select {
	case h.conns <- c:
		return true
	case <-h.done:
	case <-ctx.Done():
	}
	_ = c.Close()
	return false
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }
