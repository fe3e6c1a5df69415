package app

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/testpki"
	"github.com/meshgate/meshgate/internal/translate"
)

// tlsBackend is an HTTPS server on 127.0.0.1 that answers with what it saw
// of the gateway's connection: "sni=<server name> client=<client
// certificate identity> proto=<HTTP version>". With clientCAs it refuses
// connections without a client certificate they signed.
func tlsBackend(t *testing.T, cert *testpki.Leaf, clientCAs *x509.CertPool, h2 bool) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "sni=%s client=%s proto=%s", r.TLS.ServerName, peerIdentity(r.TLS), r.Proto)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert.TLS}}
	if clientCAs != nil {
		srv.TLS.ClientCAs = clientCAs
		srv.TLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	srv.EnableHTTP2 = h2
	// The refused handshakes are the point of some cases, not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// peerIdentity is the URI SAN (SPIFFE ID) of the client certificate, else
// its common name, else "none".
func peerIdentity(cs *tls.ConnectionState) string {
	if len(cs.PeerCertificates) == 0 {
		return "none"
	}
	leaf := cs.PeerCertificates[0]
	if len(leaf.URIs) > 0 {
		return leaf.URIs[0].String()
	}
	return leaf.Subject.CommonName
}

// tlsDestination is a Service "<name>" in namespace default with one
// WorkloadEntry at backend, a DestinationRule whose trafficPolicy.tls is
// tlsYAML (a flow mapping), and a VirtualService sending host to it.
func tlsDestination(name, host, portName, backend, serviceAccount, tlsYAML string) string {
	_, port, _ := net.SplitHostPort(backend)
	sa := ""
	if serviceAccount != "" {
		sa = "\n  serviceAccount: " + serviceAccount
	}
	return fmt.Sprintf(`---
apiVersion: v1
kind: Service
metadata: {name: %[1]s, namespace: default}
spec:
  selector: {app: %[1]s}
  ports:
  - {name: %[3]s, port: 8080}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: %[1]s-1, namespace: default}
spec:
  address: 127.0.0.1
  ports: {%[3]s: %[4]s}
  labels: {app: %[1]s}%[5]s
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: %[1]s, namespace: default}
spec:
  host: %[1]s.default.svc.cluster.local
  trafficPolicy:
    tls: %[6]s
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: %[1]s, namespace: default}
spec:
  hosts: [%[2]s]
  gateways: [istio-system/edge]
  http:
  - route: [{destination: {host: %[1]s.default.svc.cluster.local}}]
`, name, host, portName, port, sa, tlsYAML)
}

// get sends GET http://host/ to the gateway's plain-text port and returns
// the status and body.
func (e *edge) get(t *testing.T, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+e.plain+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestUpstreamTLS originates TLS from the gateway to real HTTPS backends
// under each DestinationRule tls mode and checks what each backend saw:
// the SNI, the gateway's client certificate and the HTTP version, and that
// an endpoint whose certificate fails verification is refused with
// Envoy's 503 UF and the handshake failure as the transport failure reason.
func TestUpstreamTLS(t *testing.T) {
	const td = "cluster.local"
	backendCA := testpki.NewCA(t, "backend-ca")
	otherCA := testpki.NewCA(t, "other-ca")
	clientCA := testpki.NewCA(t, "gateway-client-ca")
	meshCA := testpki.NewCA(t, "mesh-root")

	// The gateway's own client certificate (MUTUAL, from files and from a
	// Secret), and its mesh certificate (ISTIO_MUTUAL) in the workload
	// certificate directory, as Istio mounts it.
	clientLeaf := clientCA.Client(t, "gateway.example.com")
	clientCert, clientKey := clientLeaf.WriteFiles(t)
	caDir := t.TempDir()
	caFile := filepath.Join(caDir, "backend-ca.pem")
	testpki.WriteFile(t, caFile, backendCA.CertPEM)
	revokedLeaf := backendCA.Server(t, "backend.internal")
	crlFile := filepath.Join(caDir, "backend.crl")
	testpki.WriteFile(t, crlFile, backendCA.CRL(t, revokedLeaf))
	gatewayID := "spiffe://" + td + "/ns/istio-system/sa/istio-ingressgateway"
	meshLeaf := meshCA.Client(t, gatewayID)
	certDir := t.TempDir()
	testpki.WriteFile(t, filepath.Join(certDir, "cert-chain.pem"), meshLeaf.CertPEM)
	testpki.WriteFile(t, filepath.Join(certDir, "key.pem"), meshLeaf.KeyPEM)
	testpki.WriteFile(t, filepath.Join(certDir, "root-cert.pem"), meshCA.CertPEM)

	// A workload certificate for mesh identities: usable as a server and
	// a client certificate, as Istio issues them.
	workload := func(id string) *testpki.Leaf { return meshCA.Server(t, id) }
	reviewsID := "spiffe://" + td + "/ns/default/sa/reviews"

	b64 := base64.StdEncoding.EncodeToString
	routes := strings.Join([]string{
		tlsDestination("simple", "simple.example.com", "http",
			tlsBackend(t, backendCA.Server(t, "backend.internal"), nil, false), "",
			fmt.Sprintf("{mode: SIMPLE, sni: backend.internal, caCertificates: %s}", caFile)),
		tlsDestination("simple-untrusted", "untrusted.example.com", "http",
			tlsBackend(t, otherCA.Server(t, "backend.internal"), nil, false), "",
			fmt.Sprintf("{mode: SIMPLE, sni: backend.internal, caCertificates: %s}", caFile)),
		tlsDestination("revoked", "revoked.example.com", "http",
			tlsBackend(t, revokedLeaf, nil, false), "",
			fmt.Sprintf("{mode: SIMPLE, sni: backend.internal, caCertificates: %s, caCrl: %s}", caFile, crlFile)),
		tlsDestination("auto-sni", "api.example.com", "http",
			tlsBackend(t, backendCA.Server(t, "api.example.com"), nil, false), "",
			fmt.Sprintf("{mode: SIMPLE, caCertificates: %s}", caFile)),
		tlsDestination("auto-san-mismatch", "www.example.com", "http",
			tlsBackend(t, backendCA.Server(t, "api.example.com"), nil, false), "",
			fmt.Sprintf("{mode: SIMPLE, caCertificates: %s}", caFile)),
		tlsDestination("mutual-files", "mutual.example.com", "http",
			tlsBackend(t, backendCA.Server(t, "mutual.internal"), clientCA.Pool(), false), "",
			fmt.Sprintf("{mode: MUTUAL, sni: mutual.internal, clientCertificate: %s, privateKey: %s, caCertificates: %s, subjectAltNames: [mutual.internal]}",
				clientCert, clientKey, caFile)),
		tlsDestination("mutual-secret", "mutual-secret.example.com", "http2",
			tlsBackend(t, backendCA.Server(t, "mutual.internal"), clientCA.Pool(), true), "",
			"{mode: MUTUAL, sni: mutual.internal, credentialName: backend-client}"),
		tlsDestination("mutual-no-cert", "mutual-plain.example.com", "http",
			tlsBackend(t, backendCA.Server(t, "mutual.internal"), clientCA.Pool(), false), "",
			fmt.Sprintf("{mode: SIMPLE, sni: mutual.internal, caCertificates: %s}", caFile)),
		tlsDestination("reviews", "reviews.example.com", "http2",
			tlsBackend(t, workload(reviewsID), meshCA.Pool(), true), "reviews",
			"{mode: ISTIO_MUTUAL}"),
		tlsDestination("impostor", "impostor.example.com", "http",
			tlsBackend(t, workload("spiffe://"+td+"/ns/default/sa/intruder"), meshCA.Pool(), false), "reviews",
			"{mode: ISTIO_MUTUAL}"),
		externalDNS(tlsBackend(t, backendCA.Server(t, "api.partner.internal"), nil, false), caFile),
		fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata: {name: backend-client, namespace: istio-system}
type: kubernetes.io/tls
data: {tls.crt: %s, tls.key: %s, ca.crt: %s}
`, b64(clientLeaf.CertPEM), b64(clientLeaf.KeyPEM), b64(backendCA.CertPEM)),
	}, "")

	e := startEdgeAs(t, routes, translate.Identity{
		Labels:          map[string]string{"istio": "ingressgateway"},
		Namespace:       "istio-system",
		WorkloadCertDir: certDir,
	})

	tests := []struct {
		name, host string
		wantCode   int
		want       string // a substring of the body
	}{
		{"SIMPLE sends the configured SNI and trusts caCertificates", "simple.example.com",
			200, "sni=backend.internal client=none proto=HTTP/1.1"},
		{"SIMPLE refuses a certificate from another CA", "untrusted.example.com",
			503, "transport failure reason: upstream TLS handshake failed: endpoint certificate: x509: certificate signed by unknown authority"},
		{"caCrl refuses a revoked certificate", "revoked.example.com",
			503, "certificate revoked"},
		{"SIMPLE without sni sends the request's host", "api.example.com",
			200, "sni=api.example.com client=none"},
		{"auto SNI checks the certificate against the host", "www.example.com",
			503, "certificate is valid for api.example.com, not www.example.com"},
		{"MUTUAL presents the client certificate from files", "mutual.example.com",
			200, "sni=mutual.internal client=gateway.example.com proto=HTTP/1.1"},
		{"MUTUAL with credentialName, over HTTP/2", "mutual-secret.example.com",
			200, "sni=mutual.internal client=gateway.example.com proto=HTTP/2.0"},
		// Under TLS 1.3 the backend refuses the missing certificate after
		// the client's side of the handshake is done, so the gateway sees
		// the connection end rather than a failed handshake.
		{"a backend requiring a client certificate refuses SIMPLE", "mutual-plain.example.com",
			503, "upstream connect error or disconnect/reset before headers"},
		{"a DNS ServiceEntry host, with the rewritten authority as SNI", "partner.example.com",
			200, "sni=api.partner.internal client=none"},
		{"ISTIO_MUTUAL presents the mesh certificate and Istio's SNI", "reviews.example.com",
			200, "sni=outbound_.8080_._.reviews.default.svc.cluster.local client=" + gatewayID + " proto=HTTP/2.0"},
		{"ISTIO_MUTUAL refuses an endpoint with another identity", "impostor.example.com",
			503, "match none of [" + "spiffe://" + td + "/ns/default/sa/reviews]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.get(t, tc.host)
			if code != tc.wantCode || !strings.Contains(body, tc.want) {
				t.Fatalf("GET %s: %d %q, want %d with %q", tc.host, code, body, tc.wantCode, tc.want)
			}
		})
	}
}

// externalDNS is an external service the way users declare one: a
// ServiceEntry with resolution DNS whose endpoint is a name ("localhost",
// resolved when connecting), TLS originated by a DestinationRule without
// sni, and a VirtualService that rewrites the authority to the external
// name, which auto SNI then sends.
func externalDNS(backend, caFile string) string {
	_, port, _ := net.SplitHostPort(backend)
	return fmt.Sprintf(`---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: default}
spec:
  hosts: [api.partner.internal]
  ports: [{number: 443, name: https, protocol: HTTPS, targetPort: %s}]
  resolution: DNS
  location: MESH_EXTERNAL
  endpoints: [{address: localhost}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: partner, namespace: default}
spec:
  host: api.partner.internal
  trafficPolicy:
    tls: {mode: SIMPLE, caCertificates: %s}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: partner, namespace: default}
spec:
  hosts: [partner.example.com]
  gateways: [istio-system/edge]
  http:
  - rewrite: {authority: api.partner.internal}
    route: [{destination: {host: api.partner.internal, port: {number: 443}}}]
`, port, caFile)
}
