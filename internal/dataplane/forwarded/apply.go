package forwarded

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Headers Envoy removes from external requests so that clients cannot
// steer the gateway (ConnectionManagerUtility::cleanInternalHeaders). The
// first three only matter at the edge, where every external request is.
var internalOnlyHeaders = []string{
	"X-Envoy-Decorator-Operation",
	"X-Envoy-Downstream-Service-Cluster",
	"X-Envoy-Downstream-Service-Node",
	"X-Envoy-Retriable-Status-Codes",
	"X-Envoy-Retriable-Header-Names",
	"X-Envoy-Retry-On",
	"X-Envoy-Retry-Grpc-On",
	"X-Envoy-Max-Retries",
	"X-Envoy-Upstream-Alt-Stat-Name",
	"X-Envoy-Upstream-Rq-Timeout-Ms",
	"X-Envoy-Upstream-Rq-Per-Try-Timeout-Ms",
	"X-Envoy-Upstream-Rq-Timeout-Alt-Response",
	"X-Envoy-Expected-Rq-Timeout-Ms",
	"X-Envoy-Force-Trace",
	"X-Envoy-Ip-Tags",
	"X-Envoy-Original-Url",
	"X-Envoy-Hedge-On-Per-Try-Timeout",
}

// forwardingHeaders are the headers httputil.ReverseProxy removes from
// the outbound request before its Rewrite runs. Envoy forwards Forwarded
// and X-Forwarded-Host untouched and sets the other two, so Apply puts all
// four back.
var forwardingHeaders = []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"}

type decisionKey struct{}

// DecisionFrom returns the decision Prepare recorded for a request, or nil.
func DecisionFrom(ctx context.Context) *Decision {
	d, _ := ctx.Value(decisionKey{}).(*Decision)
	return d
}

// Prepare applies the forwarding decision to an incoming request before it
// is routed, as Envoy's connection manager mutates request headers before
// its router sees them: X-Forwarded-For gets the peer appended,
// X-Forwarded-Proto is kept or overwritten, x-envoy-external-address and
// x-envoy-internal are set or removed, internal-only x-envoy-* headers are
// removed from external requests, and X-Forwarded-Client-Cert follows the
// client certificate mode. The returned request carries the decision in
// its context, and its RemoteAddr is the trusted client address (with port
// 0 when it came from X-Forwarded-For), as Envoy's downstream remote
// address is for access logs and source-IP hashing.
//
// The connection facts come from the request context (see WithConn);
// without them, RemoteAddr is the peer and the zero Settings apply.
func Prepare(r *http.Request) *http.Request {
	c := connOf(r)
	d := Decide(c, r.Header, r.TLS)
	setHeaders(r.Header, &d, c, r)
	if !d.Internal {
		for _, k := range internalOnlyHeaders {
			r.Header.Del(k)
		}
	}
	out := r.WithContext(context.WithValue(r.Context(), decisionKey{}, &d))
	if d.Client != c.Peer.Addr().Unmap() {
		out.RemoteAddr = net.JoinHostPort(d.Client.String(), "0")
	}
	return out
}

// Apply sets the forwarding headers of the outbound request whose incoming
// request is in; out is the outbound header, which ReverseProxy has
// stripped of Forwarded and X-Forwarded-*. Call it first in Rewrite, so
// that route header operations can still change what it set.
//
// After Prepare it copies the decided values back from in; for a request
// that did not pass through Prepare it decides with the zero Settings,
// taking in.RemoteAddr as the peer.
func Apply(in *http.Request, out http.Header) {
	if DecisionFrom(in.Context()) == nil {
		var local Conn
		c := ConnFrom(in.Context())
		if c == nil {
			// Facts from RemoteAddr, on the stack: nothing keeps them.
			ap := parseAddrPort(in.RemoteAddr)
			local = Conn{Peer: ap, Socket: ap}
			c = &local
		}
		d := Decide(c, in.Header, in.TLS)
		copyHeader(out, in.Header, "Forwarded")
		copyHeader(out, in.Header, "X-Forwarded-Host")
		setHeaders(out, &d, c, in)
		return
	}
	for _, k := range forwardingHeaders {
		copyHeader(out, in.Header, k)
	}
}

// Scheme is the scheme a request counts as having: the trusted
// X-Forwarded-Proto after Prepare (Envoy's :scheme), else the connection's.
func Scheme(r *http.Request) string {
	if d := DecisionFrom(r.Context()); d != nil {
		if d.HTTPS() {
			return "https"
		}
		return "http"
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// Header values the gateway sets on most requests, built once. Full
// slices (len == cap): an append elsewhere copies, never shares.
var (
	protoHTTP    = []string{"http"}[:1:1]
	protoHTTPS   = []string{"https"}[:1:1]
	internalTrue = []string{"true"}[:1:1]
)

// setHeaders writes d into h: what Envoy sends upstream.
func setHeaders(h http.Header, d *Decision, c *Conn, r *http.Request) {
	// One allocation holds the values of X-Forwarded-For and
	// x-envoy-external-address.
	var vals *[2]string
	if d.XFF != "" {
		vals = new([2]string)
		vals[0] = d.XFF
		h["X-Forwarded-For"] = vals[0:1:1]
	} else {
		h.Del("X-Forwarded-For")
	}
	switch d.Proto {
	case "http":
		h["X-Forwarded-Proto"] = protoHTTP
	case "https":
		h["X-Forwarded-Proto"] = protoHTTPS
	default:
		h.Set("X-Forwarded-Proto", d.Proto)
	}
	switch {
	case d.Internal:
		h["X-Envoy-Internal"] = internalTrue
	case d.Client.IsValid():
		h.Del("X-Envoy-Internal")
		// Envoy leaves an internal request's x-envoy-external-address
		// alone and overwrites an external one's.
		if vals == nil {
			vals = new([2]string)
		}
		vals[1] = clientText(d)
		h["X-Envoy-External-Address"] = vals[1:2:2]
	default:
		h.Del("X-Envoy-Internal")
	}
	s := c.Settings
	if s == nil {
		s = &Settings{}
	}
	clientCert(h, s, r.TLS, c.LocalURIs)
}

// clientText is d.Client as text. When the client is the peer, Decide
// has already written it as the last entry of XFF, which is reused.
func clientText(d *Decision) string {
	if d.peer.IsValid() && d.Client == d.peer.Addr().Unmap() {
		// Addresses hold no spaces; entries are joined with ", ".
		return d.XFF[strings.LastIndexByte(d.XFF, ' ')+1:]
	}
	return d.Client.String()
}

// connOf returns the request's connection facts, or facts built from
// RemoteAddr when no listener recorded any.
func connOf(r *http.Request) *Conn {
	if c := ConnFrom(r.Context()); c != nil {
		return c
	}
	ap := parseAddrPort(r.RemoteAddr)
	return &Conn{Peer: ap, Socket: ap}
}

func parseAddrPort(s string) netip.AddrPort {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		host, port = s, "0"
	}
	a, _ := netip.ParseAddr(host)
	p, _ := strconv.ParseUint(port, 10, 16)
	return netip.AddrPortFrom(a.WithZone("").Unmap(), uint16(p))
}

func copyHeader(dst, src http.Header, k string) {
	if vs := src.Values(k); len(vs) > 0 {
		dst[http.CanonicalHeaderKey(k)] = append([]string(nil), vs...)
	} else {
		dst.Del(k)
	}
}
