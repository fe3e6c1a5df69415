package translate

import (
	"net/netip"
	"strings"
)

// resolveShortName completes a host the way Istio does for VirtualService
// hosts and destinations and for DestinationRule hosts. The API says:
// "When short names are used (e.g. "reviews" instead of
// "reviews.default.svc.cluster.local"), Istio will interpret the short
// name based on the namespace of the rule, not the service." A name
// without dots becomes "<name>.<namespace>.svc.<suffix>". Anything with a
// dot, "*" and IP addresses are taken as written, so "reviews.prod" stays
// "reviews.prod": Istio does not expand it (Kubernetes DNS would, but
// routing does not go through DNS). The result is lower-case.
func resolveShortName(host, namespace, suffix string) string {
	h := strings.ToLower(host)
	if h == "" || h == "*" || strings.Contains(h, ".") || isIPAddress(h) {
		return h
	}
	return h + "." + namespace + ".svc." + suffix
}

// isShortName reports whether resolveShortName would expand host.
func isShortName(host string) bool {
	return host != "" && host != "*" && !strings.Contains(host, ".") && !isIPAddress(host)
}

func isIPAddress(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// isWildcard reports whether host is "*" or a left wildcard such as
// "*.example.com".
func isWildcard(host string) bool { return strings.HasPrefix(host, "*") }

// hostSubsetOf reports whether every name host a matches is also matched
// by host b. Wildcards are suffix matches over any number of labels, as in
// Istio and Envoy: "*.foo.com" matches "a.foo.com" and "a.b.foo.com" but not
// "foo.com"; "*" matches everything.
func hostSubsetOf(a, b string) bool {
	switch {
	case b == "*":
		return true
	case a == "*":
		return false
	case !isWildcard(b):
		return a == b
	}
	suffix := b[1:]
	if isWildcard(a) {
		return strings.HasSuffix(a[1:], suffix)
	}
	return len(a) > len(suffix) && strings.HasSuffix(a, suffix)
}

// intersectHosts returns the names both hosts match, as one host, the way
// Istio computes a gateway virtual host's domains from a server host and a
// VirtualService host: the more specific of the two when one contains the
// other ("*.foo.com" and "a.foo.com" give "a.foo.com"; "*" and anything
// give the other), and nothing otherwise.
func intersectHosts(a, b string) (string, bool) {
	switch {
	case hostSubsetOf(a, b):
		return a, true
	case hostSubsetOf(b, a):
		return b, true
	}
	return "", false
}

// serverHost is one entry of a Gateway server's hosts: "[namespace/]dnsName".
type serverHost struct {
	// namespace is "*" (any, the default) or the namespace whose
	// VirtualServices may bind; "." is already resolved to the Gateway's
	// namespace.
	namespace string
	// host is the lower-case dnsName.
	host string
}

// parseServerHost splits a Gateway server host. It reports false for a
// malformed entry (empty namespace or name).
func parseServerHost(entry, gatewayNamespace string) (serverHost, bool) {
	ns, host, found := strings.Cut(entry, "/")
	if !found {
		ns, host = "*", entry
	}
	if ns == "." {
		ns = gatewayNamespace
	}
	if ns == "" || host == "" || strings.Contains(host, "/") {
		return serverHost{}, false
	}
	return serverHost{namespace: ns, host: strings.ToLower(host)}, true
}

// admits reports whether VirtualServices in namespace may bind to h.
func (h serverHost) admits(namespace string) bool {
	return h.namespace == "*" || h.namespace == namespace
}

// meshGateway is the reserved gateway name for the sidecar mesh.
const meshGateway = "mesh"

// resolveGatewayRef turns a VirtualService's gateway reference into
// "namespace/name". Istio accepts "namespace/name", "./name" and a bare
// name (both in the VirtualService's namespace), and the legacy
// "name.namespace[.svc.cluster.local]". "mesh" stays "mesh".
func resolveGatewayRef(ref, vsNamespace string) string {
	if ref == meshGateway {
		return ref
	}
	if ns, name, ok := strings.Cut(ref, "/"); ok {
		if ns == "." {
			ns = vsNamespace
		}
		return ns + "/" + name
	}
	name, rest, ok := strings.Cut(ref, ".")
	if !ok {
		return vsNamespace + "/" + ref
	}
	ns, _, _ := strings.Cut(rest, ".")
	return ns + "/" + name
}
