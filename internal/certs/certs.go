// Package certs turns the certificate sources of a Snapshot (files, or PEM
// data copied from Kubernetes Secrets) into crypto/tls material, and
// checks peer certificates against names the way Envoy's SAN matchers do.
// Both ends of the gateway use it: listeners terminating TLS and clusters
// originating it.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// LoadCertificate reads a certificate chain and its key. what names the
// certificate's role in errors ("server certificate", "client
// certificate").
func LoadCertificate(src snapshot.CertificateSource, what string) (tls.Certificate, error) {
	certPEM, keyPEM := src.CertificatePEM, src.KeyPEM
	origin := "Secret " + src.Secret
	if src.CertificateFile != "" {
		var err error
		if certPEM, err = os.ReadFile(src.CertificateFile); err != nil {
			return tls.Certificate{}, fmt.Errorf("%s: %w", what, err)
		}
		if keyPEM, err = os.ReadFile(src.KeyFile); err != nil {
			return tls.Certificate{}, fmt.Errorf("private key: %w", err)
		}
		origin = src.CertificateFile + " and " + src.KeyFile
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s and key from %s: %w", what, origin, err)
	}
	return cert, nil
}

// LoadCA reads a bundle of CA certificates.
func LoadCA(src *snapshot.CASource) (*x509.CertPool, error) {
	data, origin, err := caData(src)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("CA certificates from %s: no PEM certificate", origin)
	}
	return pool, nil
}

func caData(src *snapshot.CASource) (data []byte, origin string, err error) {
	if src.File == "" {
		return src.PEM, "Secret " + src.Secret, nil
	}
	if data, err = os.ReadFile(src.File); err != nil {
		return nil, src.File, fmt.Errorf("CA certificates: %w", err)
	}
	return data, src.File, nil
}

// CipherSuiteID returns the crypto/tls ID of a suite named as crypto/tls
// (and IANA) name it.
func CipherSuiteID(name string) (uint16, bool) {
	for _, list := range [][]*tls.CipherSuite{tls.CipherSuites(), tls.InsecureCipherSuites()} {
		for _, cs := range list {
			if cs.Name == name {
				return cs.ID, true
			}
		}
	}
	return 0, false
}

// SANs lists a certificate's subject alternative names (DNS, URI, IP,
// email) for messages.
func SANs(c *x509.Certificate) []string {
	out := slices.Clone(c.DNSNames)
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	return append(out, c.EmailAddresses...)
}

// SANMatches reports whether one of the certificate's SANs equals one of
// want: DNS names case-insensitively, URIs, IPs and emails exactly (Envoy's
// exact match_subject_alt_names).
func SANMatches(c *x509.Certificate, want []string) bool {
	for _, w := range want {
		for _, d := range c.DNSNames {
			if strings.EqualFold(d, w) {
				return true
			}
		}
		for _, u := range c.URIs {
			if u.String() == w {
				return true
			}
		}
		for _, ip := range c.IPAddresses {
			if ip.String() == w {
				return true
			}
		}
		if slices.Contains(c.EmailAddresses, w) {
			return true
		}
	}
	return false
}

// VerifyChain verifies a peer's certificate chain (leaf first) against
// roots for the given key usage, using the rest of the chain as
// intermediates. now nil means the current time.
func VerifyChain(chain []*x509.Certificate, roots *x509.CertPool, usage x509.ExtKeyUsage, now time.Time) ([][]*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, errors.New("the peer sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	return chain[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{usage},
	})
}
