package dataplane

import (
	"context"
	"fmt"
	"net"
	"sync"

	"github.com/meshgate/meshgate/internal/dataplane/tcpproxy"
	"github.com/meshgate/meshgate/internal/dataplane/upstream"
	"github.com/meshgate/meshgate/internal/lb"
)

// DialCluster connects the L4 proxy to an endpoint of a cluster, with the
// same picker, outlier detection and active-connection accounting HTTP
// requests use. A failed connect is a local-origin failure for outlier
// detection and is retried on other endpoints, as Istio's default policy
// retries connect failures. The connection counts against the cluster's
// maxConnections; at the limit the dial fails with upstream.ErrOverflow,
// as Envoy's TCP proxy refuses the connection.
func (s *Server) DialCluster(ctx context.Context, cluster string) (net.Conn, string, error) {
	st := s.state.Load()
	if st == nil {
		return nil, "", tcpproxy.ErrNoCluster
	}
	c := st.upstreams.Cluster(cluster)
	if c == nil {
		return nil, "", fmt.Errorf("%w: %s", tcpproxy.ErrNoCluster, cluster)
	}
	var req lb.Request
	var lastErr error
	for attempt := 0; attempt <= defaultRetries; attempt++ {
		h := c.Pick(&req)
		if h == nil {
			break
		}
		release, ok := c.TryConnection(h.Address)
		if !ok {
			return nil, h.Address, fmt.Errorf("%w: cluster %s is at maxConnections", upstream.ErrOverflow, cluster)
		}
		d := net.Dialer{Timeout: c.Spec.ConnectTimeout}
		conn, err := d.DialContext(ctx, "tcp", h.Address)
		if err == nil {
			conn, err = originateTLS(ctx, c, conn, h.Address)
		}
		if err != nil {
			release()
			if ctx.Err() == nil {
				c.Report(h, 0, true)
			}
			lastErr = err
			req.Exclude = append(req.Exclude, h)
			continue
		}
		h.Begin()
		return &hostConn{Conn: conn, host: h, release: release}, h.Address, nil
	}
	if lastErr != nil {
		return nil, "", lastErr
	}
	return nil, "", fmt.Errorf("%w: %s", tcpproxy.ErrNoHealthyUpstream, cluster)
}

// hostConn counts an L4 connection as active on its host until closed, so
// LEAST_REQUEST and spillover see long-lived connections.
type hostConn struct {
	net.Conn
	host    *lb.Host
	release func()
	once    sync.Once
}

func (c *hostConn) Close() error {
	c.once.Do(func() {
		c.host.End()
		c.release()
	})
	return c.Conn.Close()
}

// CloseWrite half-closes the connection so the proxy can forward a
// client's end of stream while the upstream keeps answering.
func (c *hostConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// originateTLS runs the cluster's TLS handshake on conn within the
// cluster's connect timeout, closing conn when it fails.
func originateTLS(ctx context.Context, c *upstream.Cluster, conn net.Conn, addr string) (net.Conn, error) {
	if c.Spec.TLS == nil {
		return conn, nil
	}
	if d := c.Spec.ConnectTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	tc, err := c.OriginateTLS(ctx, conn, addr)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}
