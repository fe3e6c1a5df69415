package listener

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/pires/go-proxyproto"
)

// ProxyProtocol configures the PROXY protocol (v1 and v2) on every
// listener, as Istio's gatewayTopology.proxyProtocol does with Envoy's
// proxy_protocol listener filter: a connection must open with a PROXY
// header, and the header's source address becomes the connection's
// downstream address.
type ProxyProtocol struct {
	// HeaderTimeout bounds reading the header (0: DefaultProxyHeaderTimeout,
	// Envoy's listener_filters_timeout). A connection that has not sent a
	// whole header by then is closed.
	HeaderTimeout time.Duration
	// Allowed lists the sources that may send a PROXY header: the load
	// balancers. Empty allows every source, which is what Istio does.
	Allowed []netip.Prefix
	// Outside decides what happens to connections from sources outside
	// Allowed.
	Outside OutsidePolicy
}

// DefaultProxyHeaderTimeout is Envoy's default listener_filters_timeout.
const DefaultProxyHeaderTimeout = 15 * time.Second

// OutsidePolicy is what a listener does with a connection from a source
// that may not send PROXY headers.
type OutsidePolicy int

const (
	// OutsideReject closes the connection at once, before reading from
	// it: only the allowed load balancers may connect.
	OutsideReject OutsidePolicy = iota
	// OutsideDirect serves the connection as a direct client, its socket
	// peer being the downstream address (for in-cluster clients that
	// bypass the load balancer). A PROXY header from such a source is a
	// spoofing attempt and closes the connection.
	OutsideDirect
)

func (p OutsidePolicy) String() string {
	if p == OutsideDirect {
		return "direct"
	}
	return "reject"
}

// ParseOutsidePolicy reads "reject" or "direct".
func ParseOutsidePolicy(s string) (OutsidePolicy, error) {
	switch strings.ToLower(s) {
	case "reject", "":
		return OutsideReject, nil
	case "direct":
		return OutsideDirect, nil
	}
	return 0, fmt.Errorf("unknown policy %q for PROXY protocol sources outside the allow-list (want reject or direct)", s)
}

// ParsePrefixes reads a comma-separated list of CIDRs or addresses (an
// address is a /32 or /128).
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// admitted is the outcome of reading a connection's PROXY header.
type admitted struct {
	conn net.Conn
	// source is the header's source address when one was used.
	source netip.AddrPort
	// proxied is set when source came from a PROXY header.
	proxied bool
}

// errRefused marks a connection closed by the PROXY protocol policy.
var errRefused = errors.New("refused")

// admit reads the PROXY header of c per p. It returns the connection to
// serve, which reports the header's addresses and replays what was read
// past it, or an error wrapping errRefused after which c must be closed.
func (p *ProxyProtocol) admit(c net.Conn) (admitted, error) {
	peer := addrPort(c.RemoteAddr())
	allowed := len(p.Allowed) == 0 || prefixesContain(p.Allowed, peer.Addr())
	if !allowed && p.Outside == OutsideReject {
		return admitted{}, fmt.Errorf("%w: source %s is not allowed to send PROXY headers", errRefused, peer.Addr())
	}
	timeout := p.HeaderTimeout
	if timeout <= 0 {
		timeout = DefaultProxyHeaderTimeout
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	// 256 bytes hold any v1 header (at most 107) and a v2 header without
	// large TLVs; go-proxyproto refills for longer v2 ones.
	br := bufio.NewReaderSize(c, 256)
	hdr, err := proxyproto.Read(br)
	_ = c.SetReadDeadline(time.Time{})
	switch {
	case errors.Is(err, proxyproto.ErrNoProxyProtocol):
		if allowed {
			return admitted{}, fmt.Errorf("%w: no PROXY header from %s", errRefused, peer.Addr())
		}
		hdr = nil // a direct client
	case err != nil:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return admitted{}, fmt.Errorf("%w: no complete PROXY header from %s within %s", errRefused, peer.Addr(), timeout)
		}
		return admitted{}, fmt.Errorf("%w: bad PROXY header from %s: %v", errRefused, peer.Addr(), err)
	case !allowed:
		return admitted{}, fmt.Errorf("%w: PROXY header from %s, which is outside the allowed sources", errRefused, peer.Addr())
	}
	prefix, _ := br.Peek(br.Buffered())
	out := &proxiedConn{Conn: c, prefix: append([]byte(nil), prefix...)}
	a := admitted{conn: out}
	// LOCAL (load balancer health checks) and UNKNOWN headers carry no
	// client: the socket's peer stays the downstream address.
	if hdr != nil && hdr.Command.IsProxy() {
		if src, dst, ok := hdr.TCPAddrs(); ok {
			out.remote, out.local = src, dst
			a.source, a.proxied = addrPort(src), true
		}
	}
	return a, nil
}

func prefixesContain(ps []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
