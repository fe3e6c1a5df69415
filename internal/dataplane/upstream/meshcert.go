package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/meshgate/meshgate/internal/certs"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// The gateway's mesh (workload) credentials for ISTIO_MUTUAL are files
// rotated in place by whoever issues them (istio-agent, cert-manager's
// CSI driver), long before any configuration changes. So each handshake
// checks whether they changed, at most once a second, and reloads them
// when they did.

// meshRecheck bounds how often the files are looked at.
const meshRecheck = time.Second

// watchedFiles is a value loaded from files and reloaded when one of
// their modification times changes. A reload that fails keeps the last
// good value (a rotation caught half-written) and tries again on the next
// use; only a first load that fails is an error.
type watchedFiles[T any] struct {
	files []string
	load  func() (T, error)
	now   func() time.Time

	mu      sync.Mutex
	checked time.Time
	stamp   []time.Time
	value   T
	loaded  bool
}

func newWatchedFiles[T any](load func() (T, error), files ...string) *watchedFiles[T] {
	return &watchedFiles[T]{files: files, load: load, now: time.Now}
}

func (w *watchedFiles[T]) get() (T, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if w.loaded && now.Sub(w.checked) < meshRecheck {
		return w.value, nil
	}
	w.checked = now
	stamp := make([]time.Time, len(w.files))
	for i, f := range w.files {
		stamp[i] = modTime(f)
	}
	if w.loaded && slices.Equal(stamp, w.stamp) {
		return w.value, nil
	}
	v, err := w.load()
	if err != nil {
		if w.loaded {
			w.checked = time.Time{}
			return w.value, nil
		}
		var zero T
		return zero, err
	}
	w.value, w.stamp, w.loaded = v, stamp, true
	return v, nil
}

// newMeshCertificate watches the mesh certificate and key; get is a
// tls.Config GetClientCertificate.
func newMeshCertificate(src snapshot.CertificateSource) *watchedFiles[*tls.Certificate] {
	return newWatchedFiles(func() (*tls.Certificate, error) {
		cert, err := certs.LoadCertificate(src, "mesh certificate")
		if err != nil {
			return nil, err
		}
		return &cert, nil
	}, src.CertificateFile, src.KeyFile)
}

// newMeshRoots watches the mesh root certificates.
func newMeshRoots(src *snapshot.CASource) *watchedFiles[*x509.CertPool] {
	return newWatchedFiles(func() (*x509.CertPool, error) { return certs.LoadCA(src) }, src.File)
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}
