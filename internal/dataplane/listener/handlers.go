package listener

import (
	"net"
	"net/http"
	"strings"

	"github.com/meshgate/meshgate/internal/dataplane/router"
	"github.com/meshgate/meshgate/internal/dataplane/tcpproxy"
)

// requireTLS answers 301 to https for requests on a plain-text socket
// whose virtual host requires TLS (a server's httpsRedirect; Envoy's
// require_tls ALL). The Location keeps the Host header as the client sent
// it, port included, and the path and query, as Envoy's does.
//
// Whether a request came over TLS is decided by the connection alone: a
// load balancer's X-Forwarded-Proto is not trusted, since no trusted-proxy
// configuration exists yet. Behind a TLS-terminating load balancer that
// forwards plain text, httpsRedirect therefore redirects every request,
// the loop Istio users know (istio#16778).
func (s *socket) requireTLS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tab := s.config().redirects; tab != nil && r.TLS == nil {
			if vh, _ := tab.Route(r); vh != nil && vh.RequireTLS {
				w.Header().Set("Location", "https://"+r.Host+r.URL.RequestURI())
				w.WriteHeader(http.StatusMovedPermanently)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

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
