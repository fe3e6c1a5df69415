package listener

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/meshgate/meshgate/internal/certs"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// chain is a snapshot filter chain ready to serve: its TLS configuration
// built and its certificates loaded, or the reason it cannot serve.
type chain struct {
	spec *snapshot.FilterChain
	// tls is nil for a chain that does not terminate TLS.
	tls *tls.Config
	// err, when set, makes the chain refuse its connections.
	err error
	// localURIs are the URI SANs of the chain's (first) certificate: the
	// "By" of the X-Forwarded-Client-Cert elements it adds.
	localURIs []string
}

// newChain prepares a filter chain. Certificate files are read here, when
// a snapshot is applied, so a certificate rotated on disk is picked up by
// the next configuration change, and a file that cannot be used only
// takes its own chain down.
func newChain(fc *snapshot.FilterChain) *chain {
	c := &chain{spec: fc}
	switch {
	case fc.Unavailable != "":
		c.err = errors.New(fc.Unavailable)
	case fc.TLS != nil:
		c.tls, c.err = serverTLSConfig(fc.TLS)
		if c.err == nil {
			c.localURIs = uriSANs(c.tls.Certificates[0])
		}
		if c.err != nil && fc.TLS.Mode == snapshot.TLSIstioMutual {
			c.err = fmt.Errorf("ISTIO_MUTUAL needs the gateway's mesh certificate (cert-chain.pem, key.pem and root-cert.pem in %s): %w",
				workloadDir(fc.TLS), c.err)
		}
	}
	return c
}

// uriSANs returns the URI SANs of a certificate's leaf. With several
// certificates (RSA and ECDSA) the first one's are used; the gateway's
// certificates for one server carry the same identity.
func uriSANs(cert tls.Certificate) []string {
	leaf := cert.Leaf
	if leaf == nil && len(cert.Certificate) > 0 {
		leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	if leaf == nil {
		return nil
	}
	out := make([]string, 0, len(leaf.URIs))
	for _, u := range leaf.URIs {
		out = append(out, u.String())
	}
	return out
}

func workloadDir(t *snapshot.TLSContext) string {
	if len(t.Certificates) > 0 {
		return filepath.Dir(t.Certificates[0].CertificateFile)
	}
	return "the workload certificate directory"
}

// tlsVersions maps snapshot versions to crypto/tls ones.
var tlsVersions = map[snapshot.TLSVersion]uint16{
	snapshot.TLS10: tls.VersionTLS10,
	snapshot.TLS11: tls.VersionTLS11,
	snapshot.TLS12: tls.VersionTLS12,
	snapshot.TLS13: tls.VersionTLS13,
}

// serverTLSConfig builds the crypto/tls configuration of a terminating
// chain.
func serverTLSConfig(t *snapshot.TLSContext) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion: tlsVersions[t.MinVersion],
		MaxVersion: tlsVersions[t.MaxVersion],
		NextProtos: slices.Clone(t.ALPN),
	}
	if cfg.MinVersion == 0 {
		cfg.MinVersion = tls.VersionTLS12
	}
	for _, src := range t.Certificates {
		cert, err := certs.LoadCertificate(src, "server certificate")
		if err != nil {
			return nil, err
		}
		cfg.Certificates = append(cfg.Certificates, cert)
	}
	if len(cfg.Certificates) == 0 {
		return nil, errors.New("no server certificate")
	}
	for _, name := range t.CipherSuites {
		id, ok := certs.CipherSuiteID(name)
		if !ok {
			return nil, fmt.Errorf("unknown cipher suite %s", name)
		}
		cfg.CipherSuites = append(cfg.CipherSuites, id)
	}
	switch t.Mode {
	case snapshot.TLSMutual, snapshot.TLSIstioMutual:
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case snapshot.TLSOptionalMutual:
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	if cfg.ClientAuth != tls.NoClientCert {
		if t.ClientCA == nil {
			return nil, errors.New("no CA certificates to verify clients with")
		}
		pool, err := certs.LoadCA(t.ClientCA)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		if v := clientVerifier(t); v != nil {
			cfg.VerifyConnection = v
		}
	}
	return cfg, nil
}

// clientVerifier checks a verified client certificate against the
// chain's subjectAltNames and certificate pins, as Envoy's
// match_subject_alt_names (exact) and verify_certificate_hash/spki do.
// A connection without a client certificate (OPTIONAL_MUTUAL) passes.
func clientVerifier(t *snapshot.TLSContext) func(tls.ConnectionState) error {
	sans := t.SubjectAltNames
	hashes, spkis := t.VerifyCertificateHash, t.VerifyCertificateSPKI
	if len(sans) == 0 && len(hashes) == 0 && len(spkis) == 0 {
		return nil
	}
	return func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return nil
		}
		leaf := cs.PeerCertificates[0]
		if len(sans) > 0 && !certs.SANMatches(leaf, sans) {
			return fmt.Errorf("client certificate SANs %v match none of %v", certs.SANs(leaf), sans)
		}
		if len(hashes) > 0 || len(spkis) > 0 {
			sum := sha256.Sum256(leaf.Raw)
			spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
			if !slices.Contains(hashes, hex.EncodeToString(sum[:])) &&
				!slices.Contains(spkis, base64.StdEncoding.EncodeToString(spki[:])) {
				return errors.New("client certificate matches no pinned hash")
			}
		}
		return nil
	}
}
