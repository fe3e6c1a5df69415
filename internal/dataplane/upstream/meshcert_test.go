package upstream

import (
	"crypto/x509"
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
		c, err := m.get()
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

// TestMeshRootsRotation replaces the mesh root file: endpoints issued by
// the new root verify once the file is looked at again, and a missing
// file keeps the last good roots.
func TestMeshRootsRotation(t *testing.T) {
	oldCA, newCA := testpki.NewCA(t, "root-1"), testpki.NewCA(t, "root-2")
	file := filepath.Join(t.TempDir(), "root-cert.pem")
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(ca *testpki.CA, mtime time.Time) {
		testpki.WriteFile(t, file, ca.CertPEM)
		if err := os.Chtimes(file, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write(oldCA, clock)
	roots := newMeshRoots(&snapshot.CASource{File: file})
	roots.now = func() time.Time { return clock }
	verifies := func(ca *testpki.CA) bool {
		t.Helper()
		pool, err := roots.get()
		if err != nil {
			t.Fatal(err)
		}
		_, err = ca.Server(t, "reviews").Cert.Verify(x509.VerifyOptions{Roots: pool})
		return err == nil
	}
	if !verifies(oldCA) || verifies(newCA) {
		t.Fatal("initial roots: want only root-1")
	}
	write(newCA, clock.Add(time.Minute))
	clock = clock.Add(2 * time.Second)
	if verifies(oldCA) || !verifies(newCA) {
		t.Fatal("after rotation: want only root-2")
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Second)
	if !verifies(newCA) {
		t.Fatal("file gone: want the last good roots kept")
	}
}
