// Package forwarded decides who the client of a request is and what the
// gateway tells its upstream about it: the trusted client address, the
// X-Forwarded-For, X-Forwarded-Proto, x-envoy-external-address and
// x-envoy-internal headers, and X-Forwarded-Client-Cert. It does what
// Envoy's HTTP connection manager does at an Istio gateway, which always
// runs with use_remote_address: true and xff_num_trusted_hops set from
// gatewayTopology.numTrustedProxies.
//
// The decision is a pure function (Decide) of the connection facts the
// listener records (Conn: peer address after PROXY protocol, TLS), the
// request headers and the Settings. Prepare applies it to an incoming
// request before routing, as Envoy mutates request headers before its
// router runs; Apply restores the X-Forwarded headers on the outbound
// request, which net/http/httputil.ReverseProxy removes.
package forwarded

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// ClientCertMode is Istio's gatewayTopology.forwardClientCertDetails: how
// the X-Forwarded-Client-Cert header is treated.
type ClientCertMode int

// Client certificate modes, in Istio's enum order. The zero value is
// Istio's UNDEFINED, which a gateway resolves to SanitizeSet.
const (
	ClientCertUndefined ClientCertMode = iota
	// Sanitize removes XFCC and sends none (Envoy's own default).
	Sanitize
	// ForwardOnly forwards the client's XFCC unchanged when the
	// connection is mutual TLS; otherwise it is removed.
	ForwardOnly
	// AppendForward appends this hop's element to the client's XFCC
	// when the connection is mutual TLS; otherwise XFCC is removed.
	AppendForward
	// SanitizeSet replaces XFCC with this hop's element when the
	// connection is mutual TLS; otherwise XFCC is removed. Istio's
	// gateway default.
	SanitizeSet
	// AlwaysForwardOnly forwards the client's XFCC unchanged, mutual TLS
	// or not.
	AlwaysForwardOnly
)

var clientCertNames = [...]string{"UNDEFINED", "SANITIZE", "FORWARD_ONLY", "APPEND_FORWARD", "SANITIZE_SET", "ALWAYS_FORWARD_ONLY"}

func (m ClientCertMode) String() string {
	if m >= 0 && int(m) < len(clientCertNames) {
		return clientCertNames[m]
	}
	return fmt.Sprintf("ClientCertMode(%d)", int(m))
}

// ParseClientCertMode reads an Istio enum name (SANITIZE_SET, ...).
func ParseClientCertMode(s string) (ClientCertMode, error) {
	for i, n := range clientCertNames {
		if strings.EqualFold(s, n) {
			return ClientCertMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown forwardClientCertDetails %q (want one of %s)", s, strings.Join(clientCertNames[1:], ", "))
}

// effective resolves UNDEFINED to the gateway default.
func (m ClientCertMode) effective() ClientCertMode {
	if m == ClientCertUndefined {
		return SanitizeSet
	}
	return m
}

// Settings say whom the gateway trusts. The zero value is an Istio
// gateway's default: only the connection's peer is trusted, XFCC is
// SANITIZE_SET, and no request is internal.
type Settings struct {
	// NumTrustedProxies is gatewayTopology.numTrustedProxies (Envoy's
	// xff_num_trusted_hops): the trusted client address is the Nth
	// address from the right of X-Forwarded-For, and X-Forwarded-Proto
	// from downstream is kept when it is non-zero.
	NumTrustedProxies uint32
	// TrustedCIDRs is the alternative to counting hops (Envoy's
	// xff_trusted_cidrs with recurse; istio/api#3344). When the peer is
	// in one of them, X-Forwarded-For is walked from the right past
	// trusted addresses and the first untrusted one is the client (the
	// leftmost when all are trusted), and X-Forwarded-Proto from the
	// peer is kept. It excludes NumTrustedProxies.
	TrustedCIDRs []netip.Prefix
	// InternalCIDRs are Envoy's internal_address_config: a request with
	// no X-Forwarded-For from a peer in one of them is internal (it gets
	// x-envoy-internal: true and keeps Envoy's internal-only headers).
	// Empty, Envoy's default since 1.33 and what Istio configures, makes
	// every request external.
	InternalCIDRs []netip.Prefix
	// ClientCert is forwardClientCertDetails.
	ClientCert ClientCertMode
	// ClientCertDetails chooses the keys of this hop's XFCC element
	// (proxyHeaders.setCurrentClientCertDetails); nil is what Istio sets
	// at gateways: Subject, Cert, URI and DNS.
	ClientCertDetails *ClientCertDetails
	// DebugHeader makes the listener add DebugHeader to every response,
	// saying how the client address was derived.
	DebugHeader bool
}

// ClientCertDetails are the optional keys of an XFCC element; By and
// Hash are always set.
type ClientCertDetails struct {
	Subject, Cert, Chain, URI, DNS bool
}

// gatewayCertDetails is what Istio configures at gateways
// (set_current_client_cert_details: subject, cert, uri, dns).
var gatewayCertDetails = ClientCertDetails{Subject: true, Cert: true, URI: true, DNS: true}

// DebugHeader is the opt-in response header explaining the client address.
const DebugHeader = "X-Meshgate-Client-Address-Source"

// Validate reports settings that cannot work together.
func (s *Settings) Validate() error {
	if s.NumTrustedProxies > 0 && len(s.TrustedCIDRs) > 0 {
		return fmt.Errorf("numTrustedProxies (%d) and trusted CIDRs are alternatives; set one of them", s.NumTrustedProxies)
	}
	if s.ClientCert < ClientCertUndefined || s.ClientCert > AlwaysForwardOnly {
		return fmt.Errorf("unknown forwardClientCertDetails %d", int(s.ClientCert))
	}
	return nil
}

// details returns the XFCC keys to set.
func (s *Settings) details() ClientCertDetails {
	if s.ClientCertDetails != nil {
		return *s.ClientCertDetails
	}
	return gatewayCertDetails
}

// trustsProto reports whether X-Forwarded-Proto from the peer is kept.
func (s *Settings) trustsProto(peer netip.Addr) bool {
	if len(s.TrustedCIDRs) > 0 {
		return containedIn(s.TrustedCIDRs, peer)
	}
	return s.NumTrustedProxies > 0
}

func containedIn(prefixes []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Conn is what the listener knows about a downstream connection.
type Conn struct {
	// Peer is the downstream remote address: the source address of an
	// accepted PROXY protocol header, else the socket's peer. Envoy
	// appends it to X-Forwarded-For.
	Peer netip.AddrPort
	// Socket is the socket's peer: the load balancer when a PROXY header
	// was accepted, else Peer.
	Socket netip.AddrPort
	// ProxyProtocol reports that Peer came from a PROXY header.
	ProxyProtocol bool
	// LocalURIs are the URI SANs of the certificate the gateway presented
	// on this connection (XFCC "By").
	LocalURIs []string
	// Settings apply to the connection's requests; nil means the zero
	// Settings.
	Settings *Settings
}

type connKey struct{}

// WithConn returns ctx carrying c; listeners call it from
// http.Server.ConnContext so every request on the connection sees it.
func WithConn(ctx context.Context, c *Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// ConnFrom returns the connection facts in ctx, or nil.
func ConnFrom(ctx context.Context) *Conn {
	c, _ := ctx.Value(connKey{}).(*Conn)
	return c
}
