package upstream

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/testpki"
)

// TestMeshCertificateRotation rotates the mesh certificate files in place,
// as istio-agent does: handshakes within a second of the last look keep
// the loaded certificate, later ones load the new files, and a rotation
// caught half-written keeps the last good certificate.
func TestMeshCertificateRotation(t *testing.T) {
	ca := testpki.NewCA(t, "mesh")
	first := ca.Client(t, "spiffe://cluster.local/ns/istio-system/sa/first")
	second := ca.Client(t, "spiffe://cluster.local/ns/istio-system/sa/second")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert-chain.pem"), filepath.Join(dir, "key.pem")
	write := func(l *testpki.Leaf, mtime time.Time) {
		testpki.WriteFile(t, certFile, l.CertPEM)
		testpki.WriteFile(t, keyFile, l.KeyPEM)
		for _, f := range []string{certFile, keyFile} {
			if err := os.Chtimes(f, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write(first, clock)
	m := newMeshCertificate(snapshot.CertificateSource{CertificateFile: certFile, KeyFile: keyFile})
	m.now = func() time.Time { return clock }
	identity := func() string {
		t.Helper()
		c, err := m.get(nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.URIs[0].String()
	}

	if got := identity(); got != "spiffe://cluster.local/ns/istio-system/sa/first" {
		t.Fatalf("initial: %s", got)
	}
	write(second, clock.Add(time.Minute))
	clock = clock.Add(500 * time.Millisecond)
	if got := identity(); got != "spiffe://cluster.local/ns/istio-system/sa/first" {
		t.Fatalf("within the recheck interval: %s, want the loaded certificate", got)
	}
	clock = clock.Add(time.Second)
	if got := identity(); got != "spiffe://cluster.local/ns/istio-system/sa/second" {
		t.Fatalf("after rotation: %s", got)
	}

	// Half-written: the key does not match the certificate.
	testpki.WriteFile(t, certFile, first.CertPEM)
	later := clock.Add(2 * time.Minute)
	_ = os.Chtimes(certFile, later, later)
	clock = clock.Add(2 * time.Second)
	if got := identity(); got != "spiffe://cluster.local/ns/istio-system/sa/second" {
		t.Fatalf("half-written rotation: %s, want the last good certificate", got)
	}
}
