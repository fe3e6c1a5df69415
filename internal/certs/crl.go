package certs

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"

	"github.com/meshgate/meshgate/internal/snapshot"
)

// RevocationList is a set of certificate revocation lists: a certificate
// is revoked when a list signed by its issuer names its serial number, as
// Envoy checks a caCrl.
type RevocationList struct {
	lists []*x509.RevocationList
}

// LoadCRL reads PEM (or DER) CRLs from src.
func LoadCRL(src *snapshot.CASource) (*RevocationList, error) {
	data, origin := src.PEM, "Secret "+src.Secret
	if src.File != "" {
		var err error
		if data, err = os.ReadFile(src.File); err != nil {
			return nil, fmt.Errorf("certificate revocation list: %w", err)
		}
		origin = src.File
	}
	return ParseCRL(data, origin)
}

// ParseCRL parses one or more PEM "X509 CRL" blocks, or one DER CRL.
func ParseCRL(data []byte, origin string) (*RevocationList, error) {
	out := &RevocationList{}
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "X509 CRL" {
			continue
		}
		l, err := x509.ParseRevocationList(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate revocation list from %s: %w", origin, err)
		}
		out.lists = append(out.lists, l)
	}
	if len(out.lists) == 0 {
		l, err := x509.ParseRevocationList(data)
		if err != nil {
			return nil, fmt.Errorf("certificate revocation list from %s: no PEM X509 CRL block and not DER: %w", origin, err)
		}
		out.lists = append(out.lists, l)
	}
	return out, nil
}

// ErrRevoked is returned by Check for a revoked certificate.
var ErrRevoked = errors.New("certificate revoked")

// Check returns ErrRevoked (wrapped, naming the serial) when a certificate
// of the verified chain is revoked by a list its issuer signed.
func (r *RevocationList) Check(chain []*x509.Certificate) error {
	if r == nil {
		return nil
	}
	for i, c := range chain {
		if i+1 >= len(chain) {
			break // the root: nothing above to revoke it
		}
		issuer := chain[i+1]
		for _, l := range r.lists {
			if l.CheckSignatureFrom(issuer) != nil {
				continue
			}
			if revoked(l, c.SerialNumber) {
				return fmt.Errorf("%w: serial %s issued by %q", ErrRevoked, c.SerialNumber.Text(16), issuer.Subject.CommonName)
			}
		}
	}
	return nil
}

func revoked(l *x509.RevocationList, serial *big.Int) bool {
	for _, e := range l.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(serial) == 0 {
			return true
		}
	}
	return false
}
