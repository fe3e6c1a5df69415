package upstream

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"

	"github.com/meshgate/meshgate/internal/dataplane/upstream/h1"
)

// HTTP/1.1 clusters send their requests through the gateway's own client
// (package h1): it runs each exchange on the request's goroutine, where
// net/http's Transport hands every request to two goroutines per
// connection. The client is built from the cluster's http.Transport, so
// whatever that transport is configured with (dialer, connection
// accounting, idle settings, TLS) applies to both; transports that may
// speak HTTP/2 keep using net/http.

// roundTripper returns what a cluster with transport key k sends its
// requests through.
func (r *Registry) roundTripper(k transportKey) http.RoundTripper {
	pt := r.transport(k)
	// A TLS cluster's transport picks a connection pool per SNI and
	// handshakes per endpoint (tls.go); it stays on net/http.
	t, ok := pt.(*http.Transport)
	if !ok || !h1Capable(t) {
		return pt
	}
	if c, ok := r.h1[k]; ok {
		return c
	}
	if r.h1 == nil {
		r.h1 = make(map[transportKey]*h1.Client)
	}
	c := h1.New(h1.Options{
		Dial:                  h1Dialer(t),
		MaxIdlePerHost:        t.MaxIdleConnsPerHost,
		IdleTimeout:           t.IdleConnTimeout,
		ExpectContinueTimeout: t.ExpectContinueTimeout,
	})
	r.h1[k] = c
	return c
}

// h1Capable reports whether every connection of t speaks HTTP/1.1.
func h1Capable(t *http.Transport) bool {
	if t.ForceAttemptHTTP2 || t.Proxy != nil {
		return false
	}
	if p := t.Protocols; p != nil && (p.HTTP2() || p.UnencryptedHTTP2()) {
		return false
	}
	return true
}

// h1Dialer opens connections as t would for HTTP/1.1: its dialer, then its
// TLS configuration when it has one, offering only http/1.1 in ALPN.
func h1Dialer(t *http.Transport) func(ctx context.Context, addr string) (net.Conn, error) {
	dial := t.DialContext
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	if t.DialTLSContext != nil {
		return func(ctx context.Context, addr string) (net.Conn, error) {
			return t.DialTLSContext(ctx, "tcp", addr)
		}
	}
	if t.TLSClientConfig == nil {
		return func(ctx context.Context, addr string) (net.Conn, error) {
			return dial(ctx, "tcp", addr)
		}
	}
	return func(ctx context.Context, addr string) (net.Conn, error) {
		raw, err := dial(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		cfg := t.TLSClientConfig.Clone()
		if cfg.ServerName == "" {
			host, _, _ := net.SplitHostPort(addr)
			cfg.ServerName = host
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, err
		}
		return tc, nil
	}
}

// forgetH1 closes the idle connections of HTTP/1.1 clients whose transport
// keys the live set no longer uses, and drops those of per-cluster keys,
// as Forget does for transports.
func (r *Registry) forgetH1(used map[transportKey]bool) {
	for k, c := range r.h1 {
		if !used[k] {
			c.CloseIdleConnections()
			if k.cluster != "" {
				delete(r.h1, k)
			}
		}
	}
}

// closeH1 closes the idle connections of every HTTP/1.1 client.
func (r *Registry) closeH1() {
	for _, c := range r.h1 {
		c.CloseIdleConnections()
	}
}
