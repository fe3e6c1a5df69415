package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/meshgate/meshgate/internal/certs"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// This file originates TLS to a cluster's endpoints (a DestinationRule's
// tls): it turns the snapshot's UpstreamTLS into a handshake per new
// connection, with the SNI and the certificate checks Istio configures
// Envoy with.

// ErrUpstreamTLS marks a failed TLS handshake with an endpoint (Envoy's
// upstream transport failure): it is a connect failure, answered 503 UF
// and retried on another endpoint under Istio's default retry policy.
var ErrUpstreamTLS = errors.New("upstream TLS handshake failed")

// clientTLS is a cluster's compiled upstream TLS: the configuration every
// handshake starts from, and what verification needs.
type clientTLS struct {
	spec *snapshot.UpstreamTLS
	// err, when set, fails every connection: the credential is missing or
	// unusable.
	err error
	// base carries the client certificate, ALPN and versions; handshakes
	// clone it and set the server name and verifier.
	base *tls.Config
	// roots returns the CA pool endpoints are verified against; a nil
	// pool means the system roots.
	roots func() (*x509.CertPool, error)
	crl   *certs.RevocationList
	// identities maps an endpoint address to the SPIFFE ID it must
	// present (ISTIO_MUTUAL); fallback is accepted from endpoints whose
	// identity is unknown.
	identities map[string]string
	fallback   []string
}

// newClientTLS compiles a cluster's UpstreamTLS. Certificate files are
// read here, when a snapshot is applied; the mesh certificate of
// ISTIO_MUTUAL is re-read when its files change (see meshCertificate).
func newClientTLS(sc *snapshot.Cluster, alpn []string) *clientTLS {
	spec := sc.TLS
	ct := &clientTLS{spec: spec}
	if spec.Unavailable != "" {
		ct.err = errors.New(spec.Unavailable)
		return ct
	}
	ct.base = &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: alpn,
		// Verification is done by verify, which knows the endpoint; Go's
		// own check would demand the server name in every certificate,
		// which Envoy does not.
		InsecureSkipVerify: true, //nolint:gosec // verified in verifyConn
	}
	if src := spec.ClientCertificate; src != nil {
		if spec.Mode == snapshot.UpstreamIstioMutual {
			mc := newMeshCertificate(*src)
			ct.base.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return mc.get() }
		} else {
			cert, err := certs.LoadCertificate(*src, "client certificate")
			if err != nil {
				ct.err = err
				return ct
			}
			ct.base.Certificates = []tls.Certificate{cert}
		}
	}
	var err error
	switch {
	case spec.CA == nil:
		ct.roots = func() (*x509.CertPool, error) { return nil, nil }
	case spec.Mode == snapshot.UpstreamIstioMutual:
		// The mesh root rotates on disk like the mesh certificate.
		ct.roots = newMeshRoots(spec.CA).get
	default:
		pool, err := certs.LoadCA(spec.CA)
		if err != nil {
			ct.err = err
			return ct
		}
		ct.roots = func() (*x509.CertPool, error) { return pool, nil }
	}
	if spec.CRL != nil {
		if ct.crl, err = certs.LoadCRL(spec.CRL); err != nil {
			ct.err = err
			return ct
		}
	}
	if spec.VerifyIdentity {
		ct.identities = make(map[string]string, len(sc.Endpoints))
		for _, ep := range sc.Endpoints {
			if ep.Identity != "" {
				ct.identities[ep.Address] = ep.Identity
			}
		}
		ct.fallback = sc.Identities
	}
	return ct
}

// handshake runs the TLS handshake with the endpoint addr on conn. sni
// is the request's host when the cluster sends it (auto SNI).
func (ct *clientTLS) handshake(ctx context.Context, conn net.Conn, addr, sni string, alpn bool) (*tls.Conn, error) {
	if ct.err != nil {
		return nil, ct.err
	}
	cfg := ct.base.Clone()
	if !alpn {
		cfg.NextProtos = nil
	}
	cfg.ServerName = ct.spec.SNI
	if ct.spec.AutoSNI {
		cfg.ServerName = sni
	}
	if !ct.spec.InsecureSkipVerify {
		cfg.VerifyConnection = ct.verifier(addr, cfg.ServerName)
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	return tc, nil
}

// verifier checks the endpoint's certificate: its chain against the roots
// (and revocation list), then its name. The name is one of
// SubjectAltNames when set; else, under ISTIO_MUTUAL, the endpoint's
// identity; else, with auto SNI, the SNI sent (auto SAN validation).
// With an explicit SNI and no subjectAltNames only the chain is checked,
// as Envoy does.
func (ct *clientTLS) verifier(addr, sni string) func(tls.ConnectionState) error {
	return func(cs tls.ConnectionState) error {
		roots, err := ct.roots()
		if err != nil {
			return err
		}
		chains, err := certs.VerifyChain(cs.PeerCertificates, roots, x509.ExtKeyUsageServerAuth, time.Time{})
		if err != nil {
			return fmt.Errorf("endpoint certificate: %w", err)
		}
		if err := ct.crl.Check(chains[0]); err != nil {
			return fmt.Errorf("endpoint certificate: %w", err)
		}
		leaf := cs.PeerCertificates[0]
		switch want := ct.expectedNames(addr); {
		case len(want) > 0:
			if !certs.SANMatches(leaf, want) {
				return fmt.Errorf("endpoint certificate SANs %v match none of %v", certs.SANs(leaf), want)
			}
		case ct.spec.VerifyIdentity:
			// ISTIO_MUTUAL with no identity known for the service:
			// any workload of the mesh root is accepted, as in Istio.
		case ct.spec.AutoSNI && sni != "":
			if err := leaf.VerifyHostname(sni); err != nil {
				return fmt.Errorf("endpoint certificate: %w", err)
			}
		}
		return nil
	}
}

// expectedNames are the SANs an endpoint's certificate must carry one of.
func (ct *clientTLS) expectedNames(addr string) []string {
	if len(ct.spec.SubjectAltNames) > 0 {
		return ct.spec.SubjectAltNames
	}
	if !ct.spec.VerifyIdentity {
		return nil
	}
	if id, ok := ct.identities[addr]; ok {
		return []string{id}
	}
	return ct.fallback
}

// tlsTransport sends a TLS cluster's requests: "https" on the cluster's
// transport, one transport per SNI when the SNI is the request's host, so
// that a connection is only reused for the name it was opened with (the
// pool key Envoy derives from auto SNI).
type tlsTransport struct {
	auto   bool
	make   func() *http.Transport
	one    *http.Transport
	mu     sync.Mutex
	byHost map[string]*http.Transport
}

// maxSNIPools bounds the connection pools an auto-SNI cluster keeps, one
// per host name.
const maxSNIPools = 256

// sniKey carries the SNI of the request a dial is made for.
type sniKey struct{}

func (t *tlsTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tr, ctx := t.one, req.Context()
	if t.auto {
		sni := requestSNI(req)
		tr, ctx = t.forHost(sni), context.WithValue(ctx, sniKey{}, sni)
	}
	// A copy, with its own URL: the caller's request keeps "http".
	out := req.WithContext(ctx)
	u := *req.URL
	u.Scheme = "https"
	out.URL = &u
	return tr.RoundTrip(out)
}

func (t *tlsTransport) forHost(sni string) *http.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	tr := t.byHost[sni]
	if tr == nil {
		if t.byHost == nil {
			t.byHost = make(map[string]*http.Transport)
		}
		if len(t.byHost) >= maxSNIPools {
			// Hosts come from clients (a route may take any host), so
			// the pools are bounded: one, chosen at random, gives way.
			// Its requests in flight finish; its idle connections close.
			for h, old := range t.byHost {
				old.CloseIdleConnections()
				delete(t.byHost, h)
				break
			}
		}
		tr = t.make()
		t.byHost[sni] = tr
	}
	return tr
}

func (t *tlsTransport) CloseIdleConnections() {
	if t.one != nil {
		t.one.CloseIdleConnections()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tr := range t.byHost {
		tr.CloseIdleConnections()
	}
}

// requestSNI is the server name auto SNI sends for req: its host without
// a port; none for an IP address, which SNI cannot carry.
func requestSNI(req *http.Request) string {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return ""
	}
	return host
}

// upstreamALPN is what a TLS cluster offers in ALPN: HTTP/2 for HTTP/2
// clusters (gRPC), HTTP/1.1 otherwise, and nothing for raw TCP.
func upstreamALPN(p snapshot.UpstreamProtocol) []string {
	if p == snapshot.UpstreamH2C {
		return []string{"h2"}
	}
	return []string{"http/1.1"}
}

// tlsDialer wraps a transport's dialer with the cluster's TLS handshake.
// A failed handshake is reported as a failed dial, which is what it is
// to the retry policy and to outlier detection.
func (r *Registry) tlsDialer(k transportKey, dial dialFunc) dialFunc {
	st := r.state(k.cluster)
	timeout := k.connectTimeout
	if timeout <= 0 {
		timeout = defaultConnectTimeout
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		ct := st.tls.Load()
		if ct == nil {
			conn.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("%w: no TLS settings", ErrUpstreamTLS)}
		}
		sni, _ := ctx.Value(sniKey{}).(string)
		hctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		tc, err := ct.handshake(hctx, conn, addr, sni, true)
		if err != nil {
			conn.Close()
			return nil, &net.OpError{Op: "dial", Net: network, Addr: conn.RemoteAddr(), Err: fmt.Errorf("%w: %w", ErrUpstreamTLS, err)}
		}
		return tc, nil
	}
}

// OriginateTLS runs the cluster's TLS handshake on a connection the L4
// proxy opened to endpoint addr, and returns conn unchanged for a plain
// text cluster. TCP traffic carries no request host, so only an explicit
// SNI is sent, and no ALPN.
func (c *Cluster) OriginateTLS(ctx context.Context, conn net.Conn, addr string) (net.Conn, error) {
	if c.tls == nil {
		return conn, nil
	}
	tc, err := c.tls.handshake(ctx, conn, addr, "", false)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: conn.RemoteAddr(), Err: fmt.Errorf("%w: %w", ErrUpstreamTLS, err)}
	}
	return tc, nil
}
