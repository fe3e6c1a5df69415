package forwarded

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// Source says where the trusted client address came from.
type Source string

// Client address sources.
const (
	// SourceConnection: the socket's peer.
	SourceConnection Source = "connection"
	// SourceProxyProtocol: the source address of a PROXY protocol header.
	SourceProxyProtocol Source = "proxy-protocol"
	// SourceXFF: an address of X-Forwarded-For that the settings trust.
	SourceXFF Source = "x-forwarded-for"
)

// Decision is what the gateway concluded about one request.
type Decision struct {
	// Client is the trusted client address (Envoy's downstream remote
	// address after XFF processing).
	Client netip.Addr
	Source Source
	// Note explains a fallback, e.g. why X-Forwarded-For was not used.
	Note string
	// Internal is Envoy's internal request: no X-Forwarded-For and a peer
	// in the internal CIDRs. Other requests are external (edge) ones.
	Internal bool
	// XFF is the X-Forwarded-For to send upstream: the received list with
	// the peer appended.
	XFF string
	// Proto is the X-Forwarded-Proto to send upstream and the scheme the
	// request counts as having (httpsRedirect decides on it).
	Proto string
	// ProtoTrusted is set when Proto is the downstream's
	// X-Forwarded-Proto, kept because the peer is trusted.
	ProtoTrusted bool
	// ClaimedProto is the X-Forwarded-Proto the request carried, trusted
	// or not; "" when it had none.
	ClaimedProto string
	// peer is Conn.Peer, kept for Describe.
	peer netip.AddrPort
	via  netip.AddrPort
}

// HTTPS reports whether the request counts as having arrived over TLS:
// on a TLS connection, or with a trusted X-Forwarded-Proto of https.
func (d *Decision) HTTPS() bool { return strings.EqualFold(d.Proto, "https") }

// UntrustedHTTPSClaim reports a request that says, in an X-Forwarded-Proto
// the gateway does not trust, that it arrived over https. Behind a
// TLS-terminating load balancer that is every request, and httpsRedirect
// then redirects forever.
func (d *Decision) UntrustedHTTPSClaim() bool {
	return !d.ProtoTrusted && !d.HTTPS() && strings.EqualFold(strings.TrimSpace(d.ClaimedProto), "https")
}

// Describe renders the decision for the debug response header, e.g.
// "x-forwarded-for; address=203.0.113.10; peer=192.0.2.5".
func (d *Decision) Describe() string {
	var b strings.Builder
	b.WriteString(string(d.Source))
	b.WriteString("; address=")
	b.WriteString(d.Client.String())
	if d.Source != SourceConnection || d.via.IsValid() {
		b.WriteString("; peer=")
		b.WriteString(d.peer.Addr().String())
	}
	if d.via.IsValid() {
		b.WriteString("; load-balancer=")
		b.WriteString(d.via.Addr().String())
	}
	if d.Note != "" {
		b.WriteString("; note=")
		b.WriteString(strconv.Quote(d.Note))
	}
	return b.String()
}

// Decide computes the client address and the forwarding headers of a
// request, as Envoy's connection manager does with use_remote_address
// true (docs: configuration/http/http_conn_man/headers, x-forwarded-for):
//
//   - with numTrustedProxies N = 0 the trusted client address is the
//     peer and X-Forwarded-For is ignored;
//   - with N > 0 it is the Nth address from the right of X-Forwarded-For,
//     or the peer when the list has fewer than N addresses or that entry
//     is not an IP address;
//   - with trusted CIDRs it is the rightmost address of X-Forwarded-For
//     outside them, when the peer is inside them;
//   - the peer is then appended to X-Forwarded-For;
//   - X-Forwarded-Proto from downstream is kept only when the peer is
//     trusted (N > 0, or the peer in the trusted CIDRs) and present;
//     otherwise it is the connection's scheme.
//
// The peer is the PROXY protocol source when one was accepted. h is not
// modified.
func Decide(c *Conn, h http.Header, cs *tls.ConnectionState) Decision {
	s := c.Settings
	if s == nil {
		s = &Settings{}
	}
	peer := c.Peer.Addr().Unmap()
	d := Decision{Client: peer, Source: SourceConnection, peer: c.Peer}
	if c.ProxyProtocol {
		d.Source = SourceProxyProtocol
		d.via = c.Socket
	}
	xff := h.Values("X-Forwarded-For")
	switch {
	case len(s.TrustedCIDRs) > 0:
		switch {
		case !containedIn(s.TrustedCIDRs, peer):
			if len(xff) > 0 {
				d.Note = "peer is not in the trusted CIDRs; X-Forwarded-For ignored"
			}
		case len(xff) == 0:
			d.Note = "no X-Forwarded-For from the trusted peer"
		default:
			if a, ok := lastUntrusted(xff, s.TrustedCIDRs); ok {
				d.Client, d.Source = a, SourceXFF
			} else {
				d.Note = "X-Forwarded-For holds an entry that is not an IP address"
			}
		}
	case s.NumTrustedProxies > 0:
		n := int(s.NumTrustedProxies)
		if a, ok := nthFromRight(xff, n-1); ok {
			d.Client, d.Source = a, SourceXFF
		} else {
			d.Note = "X-Forwarded-For has fewer than " + strconv.Itoa(n) + " addresses, or its entry " +
				strconv.Itoa(n) + " from the right is not an IP address (numTrustedProxies " + strconv.Itoa(n) + ")"
		}
	}
	// Envoy: internal iff the request had no X-Forwarded-For and the
	// trusted client (then the peer) is an internal address.
	d.Internal = len(xff) == 0 && containedIn(s.InternalCIDRs, d.Client)

	// Envoy appends only an IP peer (not, say, a unix socket's).
	d.XFF = strings.Join(xff, ", ")
	if peer.IsValid() {
		if d.XFF != "" {
			d.XFF += ", "
		}
		d.XFF += peer.String()
	}

	if claimed := h.Values("X-Forwarded-Proto"); len(claimed) > 0 {
		d.ClaimedProto = strings.Join(claimed, ",")
		if s.trustsProto(peer) {
			d.Proto, d.ProtoTrusted = d.ClaimedProto, true
		}
	}
	if !d.ProtoTrusted {
		d.Proto = "http"
		if cs != nil {
			d.Proto = "https"
		}
	}
	return d
}

// nthFromRight returns the entry of the comma-separated list xff (all
// header lines, in order) that is n places from the right end (0 is the
// last one), when it exists and is an IP address. It reads only as much of
// the list as it needs, so a long header costs nothing.
func nthFromRight(xff []string, n int) (netip.Addr, bool) {
	i := 0
	for entry := range fromRight(xff) {
		if i == n {
			return parseEntry(entry)
		}
		i++
	}
	return netip.Addr{}, false
}

// maxTrustedCIDREntries bounds the X-Forwarded-For entries the trusted
// CIDR walk reads; a longer list falls back to the peer, as Envoy's
// MAX_ALLOWED_XFF_ENTRIES does.
const maxTrustedCIDREntries = 20

// lastUntrusted walks xff from the right past addresses in trusted and
// returns the first one outside them, or the leftmost when all are
// trusted. An entry that is not an IP address ends the walk without a
// result, as in Envoy's getLastNonTrustedAddressFromXFF.
func lastUntrusted(xff []string, trusted []netip.Prefix) (netip.Addr, bool) {
	n := 0
	for _, l := range xff {
		n += strings.Count(l, ",") + 1
	}
	if n > maxTrustedCIDREntries {
		return netip.Addr{}, false
	}
	var last netip.Addr
	for entry := range fromRight(xff) {
		a, ok := parseEntry(entry)
		if !ok {
			return netip.Addr{}, false
		}
		if !containedIn(trusted, a) {
			return a, true
		}
		last = a
	}
	return last, last.IsValid()
}

// fromRight yields the comma-separated entries of the header lines, from
// the last entry of the last line to the first of the first, untrimmed.
// Several lines of one header form one list (RFC 9110 §5.3).
func fromRight(lines []string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		for l := len(lines) - 1; l >= 0; l-- {
			v := lines[l]
			for {
				i := strings.LastIndexByte(v, ',')
				if !yield(v[i+1:]) {
					return
				}
				if i < 0 {
					break
				}
				v = v[:i]
			}
		}
	}
}

// parseEntry reads one X-Forwarded-For entry: an IPv4 or IPv6 address
// without port, brackets or zone, with optional surrounding whitespace,
// as Envoy's parseInternetAddressNoThrow accepts it.
func parseEntry(s string) (netip.Addr, bool) {
	s = strings.Trim(s, " \t")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
