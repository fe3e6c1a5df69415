package upstream

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"
)

// This file holds the connection side of a cluster's connectionPool
// settings: the dialer (connect timeout, TCP keep-alive, the connection
// limit) and the per-connection bookkeeping that retires a connection
// after maxRequestsPerConnection requests or maxConnectionDuration.

// countedConn is an upstream connection of a limited cluster.
type countedConn struct {
	net.Conn
	created time.Time

	mu       sync.Mutex
	requests uint32 // requests sent on the connection so far
	inUse    int    // requests on it now
	expired  bool   // past maxConnectionDuration
	closed   bool
	onClose  func()
	timer    *time.Timer
}

func (c *countedConn) Close() error {
	c.mu.Lock()
	first := !c.closed
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	if first && c.onClose != nil {
		c.onClose()
	}
	return c.Conn.Close()
}

// expire marks the connection past its lifetime and closes it at once
// when no request is using it; a busy one closes after its request (see
// track).
func (c *countedConn) expire() {
	c.mu.Lock()
	c.expired = true
	idle := c.inUse == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		_ = c.Close()
	}
}

// dialer returns the DialContext of a transport for key k. For a limited
// cluster it counts the connections in the cluster's breaker and waits,
// within the connect timeout, while MaxConnections are open.
func (r *Registry) dialer(k transportKey) func(ctx context.Context, network, addr string) (net.Conn, error) {
	timeout := k.connectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if k.keepalive.set {
		d.KeepAliveConfig = net.KeepAliveConfig{
			Enable:   true,
			Idle:     orOSDefault(k.keepalive.time),
			Interval: orOSDefault(k.keepalive.interval),
			Count:    -1,
		}
		if k.keepalive.probes > 0 {
			d.KeepAliveConfig.Count = int(k.keepalive.probes)
		}
	}
	if k.cluster == "" {
		return d.DialContext
	}
	st := r.state(k.cluster)
	b := st.breaker
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		// Waiting for a free connection counts against the connect
		// timeout, like the handshake that follows it.
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := b.conns.acquire(ctx, int64(st.limits().MaxConnections), addr); err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		conn, err := d.DialContext(ctx, network, addr)
		if err != nil {
			b.conns.release(addr)
			return nil, err
		}
		release := func() { b.conns.release(addr) }
		cc := &countedConn{Conn: conn, created: time.Now(), onClose: release}
		if dur := st.limits().MaxConnectionDuration; dur > 0 {
			cc.timer = time.AfterFunc(dur, cc.expire)
		}
		return cc, nil
	}
}

// orOSDefault maps an unset keep-alive duration to "use the operating
// system's value" (Istio's default), which net.KeepAliveConfig spells -1.
func orOSDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// TrackConn prepares an HTTP/1.1 attempt on a cluster with
// maxRequestsPerConnection or maxConnectionDuration: once the transport
// has chosen a connection, the request is marked to close it afterwards
// ("Connection: close") when it is the connection's last allowed request
// or the connection has outlived its duration. done must be called when
// the attempt ends. Other requests are returned unchanged.
func (c *Cluster) TrackConn(req *http.Request) (out *http.Request, done func()) {
	l := &c.Spec.Limits
	if l.MaxRequestsPerConnection == 0 && l.MaxConnectionDuration == 0 {
		return req, func() {}
	}
	// Apart, so that the common case above does not pay for the
	// variables the tracking closures capture.
	return trackConn(req, l.MaxRequestsPerConnection)
}

func trackConn(req *http.Request, maxReq uint32) (out *http.Request, done func()) {
	var (
		mu   sync.Mutex
		used *countedConn
	)
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		conn := info.Conn
		if tc, ok := conn.(*tls.Conn); ok {
			conn = tc.NetConn()
		}
		cc, ok := conn.(*countedConn)
		if !ok {
			return
		}
		cc.mu.Lock()
		cc.requests++
		cc.inUse++
		last := (maxReq > 0 && cc.requests >= maxReq) || cc.expired
		cc.mu.Unlock()
		if last {
			// GotConn runs before the request is written, so the
			// header still goes out with it.
			out.Close = true
		}
		mu.Lock()
		used = cc
		mu.Unlock()
	}}
	out = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	return out, func() {
		mu.Lock()
		cc := used
		used = nil
		mu.Unlock()
		if cc == nil {
			return
		}
		cc.mu.Lock()
		cc.inUse--
		idleExpired := cc.inUse == 0 && cc.expired && !cc.closed
		cc.mu.Unlock()
		if idleExpired {
			_ = cc.Close()
		}
	}
}
