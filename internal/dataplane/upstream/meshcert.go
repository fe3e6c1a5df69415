package upstream

import (
	"crypto/tls"
	"os"
	"sync"
	"time"

	"github.com/meshgate/meshgate/internal/certs"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// meshCertificate is the gateway's mesh (workload) certificate for
// ISTIO_MUTUAL. Its files are rotated in place by whoever issues them
// (istio-agent, cert-manager's CSI driver), long before any configuration
// changes, so each handshake checks whether they changed, at most once a
// second, and reloads them when they did.
type meshCertificate struct {
	src snapshot.CertificateSource
	now func() time.Time

	mu      sync.Mutex
	checked time.Time
	stamp   [2]time.Time // modification times of the certificate and key
	cert    *tls.Certificate
}

// meshRecheck bounds how often the files are looked at.
const meshRecheck = time.Second

func newMeshCertificate(src snapshot.CertificateSource) *meshCertificate {
	return &meshCertificate{src: src, now: time.Now}
}

// get is a tls.Config GetClientCertificate.
func (m *meshCertificate) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.cert != nil && now.Sub(m.checked) < meshRecheck {
		return m.cert, nil
	}
	m.checked = now
	stamp := [2]time.Time{modTime(m.src.CertificateFile), modTime(m.src.KeyFile)}
	if m.cert != nil && stamp == m.stamp {
		return m.cert, nil
	}
	cert, err := certs.LoadCertificate(m.src, "mesh certificate")
	if err != nil {
		if m.cert != nil {
			// A rotation caught half-written: keep the last good one
			// and look again on the next handshake.
			m.checked = time.Time{}
			return m.cert, nil
		}
		return nil, err
	}
	m.cert, m.stamp = &cert, stamp
	return m.cert, nil
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}
