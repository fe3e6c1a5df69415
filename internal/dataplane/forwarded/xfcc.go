package forwarded

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"strings"
)

// XFCCHeader is the X-Forwarded-Client-Cert header.
const XFCCHeader = "X-Forwarded-Client-Cert"

// clientCert applies mode to the XFCC header of h, for a request on a
// connection with TLS state cs, as Envoy's mutateXfccRequestHeader does:
//
//   - ALWAYS_FORWARD_ONLY leaves the header as it came;
//   - SANITIZE, and every other mode on a connection that is not mutual
//     TLS (no client certificate presented), remove it;
//   - FORWARD_ONLY leaves it as it came;
//   - APPEND_FORWARD appends this hop's element after a comma;
//   - SANITIZE_SET replaces the header with this hop's element.
func clientCert(h http.Header, s *Settings, cs *tls.ConnectionState, localURIs []string) {
	mode := s.ClientCert.effective()
	if mode == AlwaysForwardOnly {
		return
	}
	if mode == Sanitize || cs == nil || len(cs.PeerCertificates) == 0 {
		h.Del(XFCCHeader)
		return
	}
	switch mode {
	case AppendForward:
		el := xfccElement(cs.PeerCertificates, localURIs, s.details())
		if prior := h.Values(XFCCHeader); len(prior) > 0 {
			el = strings.Join(prior, ",") + "," + el
		}
		h.Set(XFCCHeader, el)
	case SanitizeSet:
		h.Set(XFCCHeader, xfccElement(cs.PeerCertificates, localURIs, s.details()))
	}
}

// xfccElement is this hop's XFCC element for the client's certificate
// chain (leaf first), with By and Hash always and the keys details asks
// for, in Envoy's order. At a gateway Istio asks for Cert, Subject, URI
// and DNS:
//
//	By=<gateway URI SAN>;Hash=<sha256 hex>;Cert="<url-encoded PEM>";
//	Subject="<subject>";URI=<client URI SAN>;DNS=<client DNS SAN>
//
// "URI=" is present even when the certificate has no URI SAN, and there is
// one URI or DNS pair per SAN, as Envoy documents.
func xfccElement(chain []*x509.Certificate, localURIs []string, details ClientCertDetails) string {
	leaf := chain[0]
	var parts []string
	for _, u := range localURIs {
		parts = append(parts, "By="+xfccValue(u))
	}
	sum := sha256.Sum256(leaf.Raw)
	parts = append(parts, "Hash="+hex.EncodeToString(sum[:]))
	if details.Cert {
		parts = append(parts, `Cert="`+urlEncode(string(pemOf(leaf)))+`"`)
	}
	if details.Chain {
		var all []byte
		for _, c := range chain {
			all = append(all, pemOf(c)...)
		}
		parts = append(parts, `Chain="`+urlEncode(string(all))+`"`)
	}
	if details.Subject {
		parts = append(parts, `Subject="`+strings.ReplaceAll(leaf.Subject.String(), `"`, `\"`)+`"`)
	}
	if details.URI {
		if len(leaf.URIs) == 0 {
			parts = append(parts, "URI=")
		}
		for _, u := range leaf.URIs {
			parts = append(parts, "URI="+xfccValue(u.String()))
		}
	}
	if details.DNS {
		for _, d := range leaf.DNSNames {
			parts = append(parts, "DNS="+xfccValue(d))
		}
	}
	return strings.Join(parts, ";")
}

func pemOf(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

// xfccValue double-quotes a value holding one of the separators, as the
// XFCC format asks ("If ',', ';' or '=' appear in a value, the value
// should be double-quoted").
func xfccValue(v string) string {
	if !strings.ContainsAny(v, `,;="`) {
		return v
	}
	return `"` + strings.ReplaceAll(v, `"`, `\"`) + `"`
}

// urlEncode percent-encodes everything but the unreserved characters of
// RFC 3986, which is how Envoy URL-encodes a PEM certificate (spaces as
// %20, newlines as %0A, and +, / and = of the base64 body escaped).
func urlEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) * 3 / 2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}
