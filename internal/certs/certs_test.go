package certs

import (
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/testpki"
)

func TestSANMatches(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	leaf := ca.Client(t, "API.example.com", "spiffe://cluster.local/ns/a/sa/b", "10.0.0.1", "ops@example.com").Cert
	tests := []struct {
		want []string
		ok   bool
	}{
		{[]string{"api.example.com"}, true}, // DNS names compare case-insensitively
		{[]string{"spiffe://cluster.local/ns/a/sa/b"}, true},
		{[]string{"spiffe://cluster.local/ns/a/sa/B"}, false}, // URIs exactly
		{[]string{"10.0.0.1"}, true},
		{[]string{"ops@example.com"}, true},
		{[]string{"other.example.com", "10.0.0.1"}, true}, // any one of them
		{[]string{"*.example.com"}, false},                // exact, not a wildcard
		{nil, false},
	}
	for _, tc := range tests {
		if got := SANMatches(leaf, tc.want); got != tc.ok {
			t.Errorf("SANMatches(%v) = %v, want %v", tc.want, got, tc.ok)
		}
	}
}

// TestRevocationList revokes one of two certificates a CA issued and
// checks verified chains against the list: only the revoked one fails, and
// a list signed by another CA revokes nothing.
func TestRevocationList(t *testing.T) {
	ca := testpki.NewCA(t, "ca")
	other := testpki.NewCA(t, "other")
	good, bad := ca.Server(t, "good.internal"), ca.Server(t, "bad.internal")
	crl, err := LoadCRL(&snapshot.CASource{PEM: ca.CRL(t, bad), Secret: "ns/crl"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := ParseCRL(other.CRL(t, bad), "test")
	if err != nil {
		t.Fatal(err)
	}
	chain := func(l *testpki.Leaf) []*x509.Certificate {
		chains, err := VerifyChain([]*x509.Certificate{l.Cert}, ca.Pool(), x509.ExtKeyUsageServerAuth, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return chains[0]
	}
	if err := crl.Check(chain(good)); err != nil {
		t.Errorf("good certificate: %v", err)
	}
	if err := crl.Check(chain(bad)); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked certificate: %v, want ErrRevoked", err)
	}
	if err := foreign.Check(chain(bad)); err != nil {
		t.Errorf("a list signed by another CA: %v, want no revocation", err)
	}
	if _, err := ParseCRL([]byte("not a crl"), "file.crl"); err == nil {
		t.Error("garbage parsed as a CRL")
	}
}

func FuzzParseCRL(f *testing.F) {
	f.Add([]byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseCRL(data, "fuzz")
		if err == nil && l == nil {
			t.Fatal("nil list without an error")
		}
	})
}
