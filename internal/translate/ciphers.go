package translate

import (
	"crypto/tls"
	"fmt"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
)

// opensslCiphers maps the cipher names Istio documents for
// Server.tls.cipherSuites (Envoy's, which are BoringSSL's OpenSSL-style
// names) to their IANA names, which crypto/tls uses.
var opensslCiphers = map[string]string{
	"ECDHE-ECDSA-AES128-GCM-SHA256": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-RSA-AES128-GCM-SHA256":   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
	"ECDHE-ECDSA-AES256-GCM-SHA384": "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-RSA-AES256-GCM-SHA384":   "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
	"ECDHE-ECDSA-CHACHA20-POLY1305": "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-RSA-CHACHA20-POLY1305":   "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	"ECDHE-ECDSA-AES128-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
	"ECDHE-RSA-AES128-SHA":          "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
	"ECDHE-ECDSA-AES256-SHA":        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
	"ECDHE-RSA-AES256-SHA":          "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	"ECDHE-ECDSA-AES128-SHA256":     "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
	"ECDHE-RSA-AES128-SHA256":       "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
	"AES128-GCM-SHA256":             "TLS_RSA_WITH_AES_128_GCM_SHA256",
	"AES256-GCM-SHA384":             "TLS_RSA_WITH_AES_256_GCM_SHA384",
	"AES128-SHA":                    "TLS_RSA_WITH_AES_128_CBC_SHA",
	"AES256-SHA":                    "TLS_RSA_WITH_AES_256_CBC_SHA",
	"AES128-SHA256":                 "TLS_RSA_WITH_AES_128_CBC_SHA256",
	"DES-CBC3-SHA":                  "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
}

// goCipherKind says how crypto/tls knows an IANA suite name: as a TLS 1.2
// (or older) suite it can be configured with, or as a TLS 1.3 suite,
// which it always enables and cannot be configured.
func goCipherKind(iana string) (configurable, tls13, known bool) {
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, cs := range list {
			if cs.Name != iana {
				continue
			}
			for _, v := range cs.SupportedVersions {
				if v != tls.VersionTLS13 {
					return true, false, true
				}
			}
			return false, true, true
		}
	}
	return false, false, false
}

// cipherSuites translates a server's cipherSuites to IANA names. Names
// crypto/tls cannot use are dropped with a warning; if none is left, the
// defaults apply (and are said to).
func (b *builder) cipherSuites(srv *gwServer, field string, names []string) []string {
	if len(names) == 0 {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i, name := range names {
		iana := name
		if mapped, ok := opensslCiphers[name]; ok {
			iana = mapped
		}
		configurable, tls13, known := goCipherKind(iana)
		switch {
		case !known:
			b.report(srv.meta, diag.Warning, CodeCipherSuite, resource.JoinIndex(field, i),
				fmt.Sprintf("cipher suite %q is not supported; it is ignored", name),
				"use a name Istio documents, such as ECDHE-RSA-AES128-GCM-SHA256")
		case tls13:
			b.report(srv.meta, diag.Warning, CodeCipherSuite, resource.JoinIndex(field, i),
				fmt.Sprintf("%q is a TLS 1.3 suite; TLS 1.3 suites are always enabled and cannot be chosen, so it is ignored", name), "")
		case configurable && !seen[iana]:
			seen[iana] = true
			out = append(out, iana)
		}
	}
	if len(out) == 0 {
		b.report(srv.meta, diag.Warning, CodeCipherSuite, field,
			"no listed cipher suite can be used, so the default suites apply", "")
	}
	return out
}
