package explain

import (
	"net"
	"strings"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// upstreamWords says in words how a request reaches the cluster's endpoints:
// the HTTP version and, for a DestinationRule tls, what the handshake
// presents, sends and checks.
func upstreamWords(c *snapshot.Cluster, host string) string {
	proto := "HTTP/1.1"
	if c.UpstreamProtocol == snapshot.UpstreamH2C {
		proto = "HTTP/2"
	}
	t := c.TLS
	if t == nil {
		if proto == "HTTP/2" {
			return "HTTP/2 in plain text (h2c)"
		}
		return proto + " in plain text"
	}
	var b strings.Builder
	b.WriteString(proto + " over TLS (" + string(t.Mode) + ")")
	if t.Unavailable != "" {
		b.WriteString(": connections fail: " + t.Unavailable)
		return b.String()
	}
	switch {
	case t.SNI != "":
		b.WriteString(", SNI " + t.SNI)
	case t.AutoSNI:
		if sni := hostSNI(host); sni != "" {
			b.WriteString(", SNI " + sni + " (the request's host)")
		} else {
			b.WriteString(", no SNI (the request's host is an address)")
		}
	}
	if t.ClientCertificate != nil {
		b.WriteString(", presents " + certificateSource(t.ClientCertificate, t.Mode))
	}
	switch {
	case t.InsecureSkipVerify:
		b.WriteString(", accepts any certificate (insecureSkipVerify)")
		return b.String()
	case t.CA == nil:
		b.WriteString(", trusts the system roots")
	case t.CA.Secret != "":
		b.WriteString(", trusts the CA of Secret " + t.CA.Secret)
	default:
		b.WriteString(", trusts " + t.CA.File)
	}
	switch {
	case len(t.SubjectAltNames) > 0:
		b.WriteString(", requires a SAN in [" + strings.Join(t.SubjectAltNames, " ") + "]")
	case t.VerifyIdentity:
		b.WriteString(", requires each endpoint's own identity")
	case t.AutoSNI && hostSNI(host) != "":
		b.WriteString(", requires the certificate to be valid for " + hostSNI(host))
	}
	if t.CRL != nil {
		b.WriteString(", refuses certificates its CRL revokes")
	}
	return b.String()
}

func certificateSource(src *snapshot.CertificateSource, mode snapshot.UpstreamTLSMode) string {
	switch {
	case mode == snapshot.UpstreamIstioMutual:
		return "the mesh certificate " + src.CertificateFile
	case src.Secret != "":
		return "the client certificate of Secret " + src.Secret
	}
	return "the client certificate " + src.CertificateFile
}

// hostSNI is what auto SNI sends for host: the name without a port, none
// for an address.
func hostSNI(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return ""
	}
	return host
}

// upstreamHost is the Host the request carries upstream, which auto SNI
// sends: the route's authority rewrite, else the destination's, else the
// cluster's (service upstream mode), else the client's.
func upstreamHost(host string, rt *snapshot.Route, wd snapshot.WeightedCluster, c *snapshot.Cluster) string {
	switch {
	case rt.Rewrite != nil && rt.Rewrite.Authority != "":
		return rt.Rewrite.Authority
	case wd.Authority != "":
		return wd.Authority
	case c.HostRewrite != "":
		return c.HostRewrite
	}
	return host
}
