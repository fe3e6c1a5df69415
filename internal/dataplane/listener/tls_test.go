package listener_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/testpki"
)

// webConfig is a gateway serving web.example.com over HTTPS on port 443
// with the Secret web-cert, routed to an echo backend.
func webConfig(service, secret, backend, tlsBlock string) string {
	return service + secret + serviceEntry("web", "web.internal", 80, "HTTP", backend) + `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["web.example.com"]
    tls: ` + tlsBlock + `
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["web.example.com"]
  gateways: [gw]
  http:
  - route: [{destination: {host: web.internal, port: {number: 80}}}]
`
}

func TestSimpleHTTP1AndHTTP2(t *testing.T) {
	h := newHarness(t)
	ca := testpki.NewCA(t, "gateway-ca")
	svc, addrs := gatewayService(t, 443)
	h.apply(webConfig(svc, tlsSecret("web-cert", ca.Server(t, "web.example.com"), nil), startEcho(t, "web-1"),
		"{mode: SIMPLE, credentialName: web-cert}"))

	for _, tt := range []struct {
		name  string
		http2 bool
		major int
	}{
		{"http/1.1", false, 1},
		{"h2", true, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := client(addrs[443], clientOptions{roots: ca.Pool(), http2: tt.http2})
			resp, body, err := get(t, c, "https://web.example.com/hello")
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || resp.ProtoMajor != tt.major {
				t.Fatalf("status %d over %s, want 200 over HTTP/%d", resp.StatusCode, resp.Proto, tt.major)
			}
			if !strings.Contains(body, "name=web-1") || !strings.Contains(body, "uri=/hello") {
				t.Errorf("body does not come from the backend:\n%s", body)
			}
			if resp.TLS == nil || resp.TLS.PeerCertificates[0].Issuer.CommonName != "gateway-ca" {
				t.Error("the gateway's certificate was not presented")
			}
		})
	}
}

func TestMutualTLS(t *testing.T) {
	h := newHarness(t)
	ca := testpki.NewCA(t, "gateway-ca")
	clients := testpki.NewCA(t, "client-ca")
	other := testpki.NewCA(t, "other-ca")
	svc, addrs := gatewayService(t, 443)
	backend := startEcho(t, "web-1")

	good := clients.Client(t, "spiffe://example.com/good")
	wrongSAN := clients.Client(t, "spiffe://example.com/other")
	wrongCA := other.Client(t, "spiffe://example.com/good")
	tests := []struct {
		mode   string
		cert   *testpki.Leaf
		wantOK bool
	}{
		{"MUTUAL", nil, false},
		{"MUTUAL", good, true},
		{"MUTUAL", wrongSAN, false},
		{"MUTUAL", wrongCA, false},
		{"OPTIONAL_MUTUAL", nil, true},
		{"OPTIONAL_MUTUAL", good, true},
		{"OPTIONAL_MUTUAL", wrongSAN, false},
		{"OPTIONAL_MUTUAL", wrongCA, false},
	}
	applied := ""
	for _, tt := range tests {
		name := tt.mode + "/no certificate"
		if tt.cert != nil {
			name = tt.mode + "/" + tt.cert.Cert.Issuer.CommonName + "/" + tt.cert.Cert.URIs[0].String()
		}
		t.Run(name, func(t *testing.T) {
			if applied != tt.mode {
				// The CA comes from the credential Secret's ca.crt.
				h.apply(webConfig(svc, tlsSecret("web-cert", ca.Server(t, "web.example.com"), clients.CertPEM), backend,
					fmt.Sprintf(`{mode: %s, credentialName: web-cert, subjectAltNames: ["spiffe://example.com/good"]}`, tt.mode)))
				applied = tt.mode
			}
			o := clientOptions{roots: ca.Pool()}
			if tt.cert != nil {
				o.certs = []tls.Certificate{tt.cert.TLS}
			}
			resp, _, err := get(t, client(addrs[443], o), "https://web.example.com/")
			switch {
			case tt.wantOK && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.wantOK && resp.StatusCode != http.StatusOK:
				t.Fatalf("status %d", resp.StatusCode)
			case !tt.wantOK && err == nil:
				t.Fatalf("accepted with status %d", resp.StatusCode)
			}
		})
	}
}

// TestSNIChoosesCertificate serves two hosts on one port, each with its
// own certificate, and checks what clients with and without SNI get.
func TestSNIChoosesCertificate(t *testing.T) {
	h := newHarness(t)
	ca := testpki.NewCA(t, "gateway-ca")
	svc, addrs := gatewayService(t, 443)
	config := svc + tlsSecret("a-cert", ca.Server(t, "a.example.com"), nil) +
		tlsSecret("b-cert", ca.Server(t, "b.example.com"), nil) + `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-a, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["a.example.com"]
    tls: {mode: SIMPLE, credentialName: a-cert}
  - port: {number: 443, name: https-b, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["b.example.com"]
    tls: {mode: SIMPLE, credentialName: b-cert}
  - port: {number: 443, name: https-c, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["c.example.com"]
    tls: {mode: SIMPLE, credentialName: missing-cert}
`
	_, diags := h.apply(config)
	if len(diags.Errors()) != 1 {
		t.Fatalf("want one error, for the missing Secret; got:\n%s", diags.Error())
	}
	tests := []struct {
		sni     string
		wantDNS string // "" when the handshake must fail
	}{
		{"a.example.com", "a.example.com"},
		{"b.example.com", "b.example.com"},
		{"", "a.example.com"}, // no SNI: the first server's chain
		{"c.example.com", ""}, // its Secret is missing: refused, not served with another certificate
		{"d.example.com", ""}, // no chain
	}
	for _, tt := range tests {
		t.Run("sni="+tt.sni, func(t *testing.T) {
			leaf, err := handshake(addrs[443], &tls.Config{ServerName: tt.sni, InsecureSkipVerify: true})
			if tt.wantDNS == "" {
				if err == nil {
					t.Fatalf("handshake succeeded with %v", leaf.DNSNames)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(leaf.DNSNames, []string{tt.wantDNS}) {
				t.Errorf("certificate for %v, want %s", leaf.DNSNames, tt.wantDNS)
			}
		})
	}
}

// TestCertificateRotation changes the certificate, in a Secret and in
// files, and checks that new handshakes see the new one on the same
// socket.
func TestCertificateRotation(t *testing.T) {
	ca := testpki.NewCA(t, "gateway-ca")
	backend := startEcho(t, "web-1")
	cfg := &tls.Config{ServerName: "web.example.com", RootCAs: ca.Pool()}

	t.Run("secret", func(t *testing.T) {
		h := newHarness(t)
		svc, addrs := gatewayService(t, 443)
		first, second := ca.Server(t, "web.example.com"), ca.Server(t, "web.example.com")
		h.apply(webConfig(svc, tlsSecret("web-cert", first, nil), backend, "{mode: SIMPLE, credentialName: web-cert}"))
		bound := h.mgr.BoundAddress(addrs[443])
		assertServes(t, addrs[443], cfg, first)
		h.apply(webConfig(svc, tlsSecret("web-cert", second, nil), backend, "{mode: SIMPLE, credentialName: web-cert}"))
		assertServes(t, addrs[443], cfg, second)
		if got := h.mgr.BoundAddress(addrs[443]); got != bound {
			t.Errorf("the socket was re-bound: %s, then %s", bound, got)
		}
	})
	t.Run("files", func(t *testing.T) {
		h := newHarness(t)
		svc, addrs := gatewayService(t, 443)
		first, second := ca.Server(t, "web.example.com"), ca.Server(t, "web.example.com")
		certFile, keyFile := first.WriteFiles(t)
		tlsBlock := fmt.Sprintf("{mode: SIMPLE, serverCertificate: %s, privateKey: %s}", certFile, keyFile)
		h.apply(webConfig(svc, "", backend, tlsBlock))
		assertServes(t, addrs[443], cfg, first)
		// Files are read when a configuration is applied.
		testpki.WriteFile(t, certFile, second.CertPEM)
		testpki.WriteFile(t, keyFile, second.KeyPEM)
		h.apply(webConfig(svc, "", backend, tlsBlock))
		assertServes(t, addrs[443], cfg, second)
	})
}

func assertServes(t *testing.T, addr string, cfg *tls.Config, want *testpki.Leaf) {
	t.Helper()
	leaf, err := handshake(addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.SerialNumber.Cmp(want.Cert.SerialNumber) != 0 {
		t.Errorf("served certificate serial %v, want %v", leaf.SerialNumber, want.Cert.SerialNumber)
	}
}

func TestMinProtocolVersion(t *testing.T) {
	h := newHarness(t)
	ca := testpki.NewCA(t, "gateway-ca")
	svc, addrs := gatewayService(t, 443)
	h.apply(webConfig(svc, tlsSecret("web-cert", ca.Server(t, "web.example.com"), nil), startEcho(t, "web-1"),
		"{mode: SIMPLE, credentialName: web-cert, minProtocolVersion: TLSV1_3}"))
	base := &tls.Config{ServerName: "web.example.com", RootCAs: ca.Pool()}
	tls12 := base.Clone()
	tls12.MaxVersion = tls.VersionTLS12
	if _, err := handshake(addrs[443], tls12); err == nil {
		t.Error("a TLS 1.2-only client was accepted")
	}
	if _, err := handshake(addrs[443], base); err != nil {
		t.Errorf("a TLS 1.3 client was refused: %v", err)
	}
}

func TestIstioMutual(t *testing.T) {
	mesh := testpki.NewCA(t, "mesh-root")
	dir := t.TempDir()
	gw := mesh.Server(t, "web.example.com")
	testpki.WriteFile(t, filepath.Join(dir, "cert-chain.pem"), gw.CertPEM)
	testpki.WriteFile(t, filepath.Join(dir, "key.pem"), gw.KeyPEM)
	testpki.WriteFile(t, filepath.Join(dir, "root-cert.pem"), mesh.CertPEM)
	backend := startEcho(t, "web-1")

	h := newHarness(t)
	h.id.WorkloadCertDir = dir
	svc, addrs := gatewayService(t, 443)
	h.apply(webConfig(svc, "", backend, "{mode: ISTIO_MUTUAL}"))
	workload := mesh.Client(t, "spiffe://cluster.local/ns/default/sa/client")
	resp, _, err := get(t, client(addrs[443], clientOptions{roots: mesh.Pool(), certs: []tls.Certificate{workload.TLS}}), "https://web.example.com/")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("mesh client: %v %v", resp, err)
	}
	if _, _, err := get(t, client(addrs[443], clientOptions{roots: mesh.Pool()}), "https://web.example.com/"); err == nil {
		t.Error("a client without a mesh certificate was accepted")
	}

	// Without the files the chain refuses connections; the gateway runs.
	if err := os.Remove(filepath.Join(dir, "key.pem")); err != nil {
		t.Fatal(err)
	}
	h.apply(webConfig(svc, "", backend, "{mode: ISTIO_MUTUAL}"))
	if _, err := handshake(addrs[443], &tls.Config{ServerName: "web.example.com", InsecureSkipVerify: true}); err == nil {
		t.Error("handshake succeeded without the workload key")
	}
}

// TestMisdirectedRequest reuses a connection established for
// a.example.com, whose certificate also covers b.example.com, for a
// request to b.example.com, which another chain serves: 421, so the
// client retries on a connection of its own.
func TestMisdirectedRequest(t *testing.T) {
	h := newHarness(t)
	ca := testpki.NewCA(t, "gateway-ca")
	svc, addrs := gatewayService(t, 443)
	backend := startEcho(t, "web-1")
	config := svc + tlsSecret("shared-cert", ca.Server(t, "a.example.com", "b.example.com"), nil) +
		tlsSecret("b-cert", ca.Server(t, "b.example.com"), nil) +
		serviceEntry("web", "web.internal", 80, "HTTP", backend) + `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https-a, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["a.example.com"]
    tls: {mode: SIMPLE, credentialName: shared-cert}
  - port: {number: 443, name: https-b, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["b.example.com"]
    tls: {mode: SIMPLE, credentialName: b-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["a.example.com", "b.example.com", "c.example.com"]
  gateways: [gw]
  http:
  - route: [{destination: {host: web.internal, port: {number: 80}}}]
`
	h.apply(config)
	for _, h2 := range []bool{true, false} {
		t.Run(fmt.Sprintf("http2=%v", h2), func(t *testing.T) {
			c := client(addrs[443], clientOptions{roots: ca.Pool(), http2: h2})
			// Every request goes to https://a.example.com, so the
			// transport keeps one connection with SNI a.example.com; only
			// the Host header changes.
			send := func(host string) (int, string) {
				req, _ := http.NewRequest(http.MethodGet, "https://a.example.com/", nil)
				req.Host = host
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.TLS.ServerName != "a.example.com" {
					t.Fatalf("connection SNI %q", resp.TLS.ServerName)
				}
				return resp.StatusCode, resp.Proto
			}
			if code, proto := send("a.example.com"); code != http.StatusOK {
				t.Fatalf("a.example.com: %d over %s", code, proto)
			}
			if code, proto := send("b.example.com"); code != http.StatusMisdirectedRequest {
				t.Errorf("b.example.com on a's connection: %d over %s, want 421", code, proto)
			}
			if code, _ := send("c.example.com"); code != http.StatusMisdirectedRequest {
				t.Errorf("c.example.com (no chain): %d, want 421", code)
			}
			if code, _ := send("A.Example.com:443"); code != http.StatusOK {
				t.Errorf("a.example.com with case and port: %d", code)
			}
		})
	}
	// On its own connection b.example.com is served.
	resp, _, err := get(t, client(addrs[443], clientOptions{roots: ca.Pool(), http2: true}), "https://b.example.com/")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("b.example.com: %v %v", resp, err)
	}
}

func TestHTTPSRedirect(t *testing.T) {
	h := newHarness(t)
	svc, addrs := gatewayService(t, 80)
	h.apply(svc + serviceEntry("web", "web.internal", 80, "HTTP", startEcho(t, "web-1")) + `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    bind: 127.0.0.1
    hosts: ["secure.example.com", "nothing-bound.example.com"]
    tls: {httpsRedirect: true}
  - port: {number: 80, name: http-open, protocol: HTTP}
    bind: 127.0.0.1
    hosts: ["open.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["secure.example.com", "open.example.com"]
  gateways: [gw]
  http:
  - route: [{destination: {host: web.internal, port: {number: 80}}}]
`)
	c := client(addrs[80], clientOptions{})
	tests := []struct {
		url          string
		wantStatus   int
		wantLocation string
	}{
		{"http://secure.example.com/a/b?x=1", http.StatusMovedPermanently, "https://secure.example.com/a/b?x=1"},
		{"http://nothing-bound.example.com/", http.StatusMovedPermanently, "https://nothing-bound.example.com/"},
		{"http://open.example.com/", http.StatusOK, ""},
	}
	for _, tt := range tests {
		resp, _, err := get(t, c, tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != tt.wantStatus || resp.Header.Get("Location") != tt.wantLocation {
			t.Errorf("%s: %d Location %q, want %d %q", tt.url, resp.StatusCode, resp.Header.Get("Location"), tt.wantStatus, tt.wantLocation)
		}
	}
}
