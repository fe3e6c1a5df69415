package listener

import (
	"net"
	"net/http"
	"strings"

	"github.com/meshgate/meshgate/internal/dataplane/forwarded"
	"github.com/meshgate/meshgate/internal/dataplane/router"
	"github.com/meshgate/meshgate/internal/dataplane/tcpproxy"
)

// prepare applies the forwarding settings to a request before anything
// routes it, as Envoy's connection manager rewrites request headers
// before its router runs: the trusted client address, X-Forwarded-For,
// X-Forwarded-Proto, x-envoy-external-address, x-envoy-internal and
// X-Forwarded-Client-Cert (see package forwarded). With the debug header
// enabled, the response says how the client address was derived.
func (s *socket) prepare(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = forwarded.Prepare(r)
		if st := s.mgr.opts.Forwarded; st != nil && st.DebugHeader {
			w.Header().Set(forwarded.DebugHeader, forwarded.DecisionFrom(r.Context()).Describe())
		}
		next.ServeHTTP(w, r)
	})
}

// requireTLS answers 301 to https for requests on a plain-text socket
// whose virtual host requires TLS (a server's httpsRedirect; Envoy's
// require_tls ALL). The Location keeps the Host header as the client sent
// it, port included, and the path and query, as Envoy's does.
//
// A request counts as TLS when its X-Forwarded-Proto is https and the
// gateway trusts the hop that sent it (numTrustedProxies > 0, or the peer
// in the trusted CIDRs), as in Envoy. Behind a load balancer that ends TLS
// and forwards plain text, an untrusted X-Forwarded-Proto: https is
// ignored and every request is redirected: the loop Istio users know
// (istio#16778). The first such redirect is logged with the fix.
func (s *socket) requireTLS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tab := s.config().redirects; tab != nil && r.TLS == nil {
			d := forwarded.DecisionFrom(r.Context())
			if vh, _ := tab.Route(r); vh != nil && vh.RequireTLS && (d == nil || !d.HTTPS()) {
				if d != nil && d.UntrustedHTTPSClaim() && s.mgr.untrustedRedirect.CompareAndSwap(false, true) {
					s.logger.Warn("httpsRedirect answered 301 to a request that says it arrived over https "+
						"(X-Forwarded-Proto: https) from a hop the gateway does not trust; behind a load balancer "+
						"that terminates TLS this redirects forever. Trust the load balancer: set "+
						"gatewayTopology.numTrustedProxies in the mesh config (or --trusted-cidrs)",
						"address", s.addr, "host", r.Host, "peer", d.Describe())
				}
				w.Header().Set("Location", "https://"+r.Host+r.URL.RequestURI())
				w.WriteHeader(http.StatusMovedPermanently)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// UntrustedHTTPSRedirects reports whether an httpsRedirect has answered a
// request whose untrusted X-Forwarded-Proto said https: the sign of a
// TLS-terminating load balancer the gateway is not configured to trust.
func (m *Manager) UntrustedHTTPSRedirects() bool { return m.untrustedRedirect.Load() }

// redirectTable returns a routing table for finding the virtual hosts
// that require TLS, or nil when none does.
func redirectTable(cfg *socketConfig) *router.Table {
	for _, vh := range cfg.spec.VirtualHosts {
		if vh.RequireTLS {
			return router.New(cfg.spec)
		}
	}
	return nil
}

// misdirected answers 421 Misdirected Request when a request on a TLS
// connection names a host the connection's filter chain does not serve:
// the Host is not among the chain's server names, or SNI would choose
// another chain for it. Browsers reuse an HTTP/2 connection for any host
// its certificate covers (connection coalescing); Envoy then routes with
// the wrong chain's routes and answers 404, while 421 makes the browser
// retry on a new connection with the right SNI (RFC 9110 §15.5.20).
//
// The chain is the one the current configuration chooses for the SNI the
// connection was established with, which is the one chosen at handshake
// unless the configuration changed since.
func (s *socket) misdirected(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil {
			cfg := s.config()
			conn := cfg.choose(r.TLS.ServerName)
			host := requestHost(r.Host)
			if conn == nil || tcpproxy.MatchSNI(conn.spec.ServerNames, host) == tcpproxy.NoMatch || cfg.choose(host) != conn {
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusMisdirectedRequest)
				_, _ = w.Write([]byte("misdirected request: the connection's certificate does not serve " + host + "\n"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// requestHost is the Host header without its port, lower-case, without a
// trailing dot: the form SNI names are compared in.
func requestHost(h string) string {
	if host, _, err := net.SplitHostPort(h); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}
