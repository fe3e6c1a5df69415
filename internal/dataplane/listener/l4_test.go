package listener_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/testpki"
)

// startTLSEcho starts an HTTPS echo backend with its own certificate.
func startTLSEcho(t *testing.T, name string, leaf *testpki.Leaf) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.TLS}, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: echo.Handler(name), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// startTCPEcho starts a TCP echo backend (echo.ServeTCP): it echoes until
// EOF, then writes "|name" and half-closes.
func startTCPEcho(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go echo.ServeTCP(ln, name)
	return ln.Addr().String()
}

// tcpExchange writes msg to c, half-closes and reads to EOF.
func tcpExchange(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	out, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v", err)
	}
	return string(out)
}

// TestPassthroughAndTerminatedOnOnePort serves www.example.com with the
// gateway's certificate and passes *.secure.example.com through to a TLS
// backend, on the same port.
func TestPassthroughAndTerminatedOnOnePort(t *testing.T) {
	h := newHarness(t)
	gatewayCA := testpki.NewCA(t, "gateway-ca")
	backendCA := testpki.NewCA(t, "backend-ca")
	svc, addrs := gatewayService(t, 443)
	h.apply(svc + tlsSecret("www-cert", gatewayCA.Server(t, "www.example.com"), nil) +
		serviceEntry("www", "www.internal", 80, "HTTP", startEcho(t, "www-1")) +
		serviceEntry("secure", "secure.internal", 8443, "TLS", startTLSEcho(t, "secure-backend", backendCA.Server(t, "app.secure.example.com"))) +
		`apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    bind: 127.0.0.1
    hosts: ["www.example.com"]
    tls: {mode: SIMPLE, credentialName: www-cert}
  - port: {number: 443, name: tls, protocol: TLS}
    bind: 127.0.0.1
    hosts: ["*.secure.example.com"]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: www, namespace: istio-system}
spec:
  hosts: ["www.example.com"]
  gateways: [gw]
  http:
  - route: [{destination: {host: www.internal, port: {number: 80}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure, namespace: istio-system}
spec:
  hosts: ["*.secure.example.com"]
  gateways: [gw]
  tls:
  - match: [{sniHosts: ["app.secure.example.com"]}]
    route: [{destination: {host: secure.internal, port: {number: 8443}}}]
`)

	// Passthrough: the backend's certificate, issued by a CA the gateway
	// has never seen, reaches the client, and the backend sees the request
	// exactly as sent, so the gateway never had the plaintext.
	resp, body, err := get(t, client(addrs[443], clientOptions{roots: backendCA.Pool(), http2: true}), "https://app.secure.example.com/pass")
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.TLS.PeerCertificates[0].Issuer.CommonName; got != "backend-ca" {
		t.Errorf("passthrough certificate issued by %q, want backend-ca", got)
	}
	if !strings.Contains(body, "name=secure-backend") || !strings.Contains(body, "proto=HTTP/2.0") {
		t.Errorf("passthrough body:\n%s", body)
	}
	if strings.Contains(body, "X-Forwarded-For") || strings.Contains(body, "X-Request-Id") {
		t.Errorf("the gateway touched the passthrough request:\n%s", body)
	}

	// Terminated on the same port, by SNI.
	resp, body, err = get(t, client(addrs[443], clientOptions{roots: gatewayCA.Pool(), http2: true}), "https://www.example.com/")
	if err != nil {
		t.Fatal(err)
	}
	if resp.TLS.PeerCertificates[0].Issuer.CommonName != "gateway-ca" || !strings.Contains(body, "name=www-1") {
		t.Errorf("terminated: issuer %q, body:\n%s", resp.TLS.PeerCertificates[0].Issuer.CommonName, body)
	}

	// An SNI under the passthrough server that no tls route takes is closed.
	if _, err := handshake(addrs[443], &tls.Config{ServerName: "other.secure.example.com", InsecureSkipVerify: true}); err == nil {
		t.Error("a connection no tls route takes was served")
	}
}

// TestTCPRoutes proxies a TCP server to a TCP backend, and a TLS server
// that terminates TLS to the same kind of backend in plain text.
func TestTCPRoutes(t *testing.T) {
	h := newHarness(t)
	ca := testpki.NewCA(t, "gateway-ca")
	svc, addrs := gatewayService(t, 5432, 6379)
	h.apply(svc + tlsSecret("redis-cert", ca.Server(t, "redis.example.com"), nil) +
		serviceEntry("db", "db.internal", 5432, "TCP", startTCPEcho(t, "db")) +
		serviceEntry("redis", "redis.internal", 6379, "TCP", startTCPEcho(t, "redis")) + `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 5432, name: tcp, protocol: TCP}
    bind: 127.0.0.1
    hosts: ["*"]
  - port: {number: 6379, name: tls-redis, protocol: TLS}
    bind: 127.0.0.1
    hosts: ["redis.example.com"]
    tls: {mode: SIMPLE, credentialName: redis-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: l4, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - match: [{port: 5432}]
    route: [{destination: {host: db.internal, port: {number: 5432}}}]
  - match: [{port: 6379}]
    route: [{destination: {host: redis.internal, port: {number: 6379}}}]
`)
	c, err := net.Dial("tcp", addrs[5432])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := tcpExchange(t, c, "select 1"); got != "select 1|db" {
		t.Errorf("tcp: got %q", got)
	}

	tc, err := tls.Dial("tcp", addrs[6379], &tls.Config{ServerName: "redis.example.com", RootCAs: ca.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if got := tcpExchange(t, tc, "PING"); got != "PING|redis" {
		t.Errorf("terminated tls: got %q", got)
	}
}

// TestSocketKindChange moves a port from HTTP to TLS to TCP and back. A
// socket keeps serving its connections across a reload that does not
// change its kind; one whose kind changes is replaced.
func TestSocketKindChange(t *testing.T) {
	h := newHarness(t)
	ca := testpki.NewCA(t, "gateway-ca")
	svc, addrs := gatewayService(t, 8000)
	addr := addrs[8000]
	backends := svc + tlsSecret("cert", ca.Server(t, "web.example.com"), nil) +
		serviceEntry("web", "web.internal", 80, "HTTP", startEcho(t, "web-1")) +
		serviceEntry("db", "db.internal", 5432, "TCP", startTCPEcho(t, "db"))
	server := func(protocol, tlsBlock string) string {
		s := `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8000, name: p, protocol: ` + protocol + `}
    bind: 127.0.0.1
    hosts: ["*"]
`
		if tlsBlock != "" {
			s += "    tls: " + tlsBlock + "\n"
		}
		return s + `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - route: [{destination: {host: web.internal, port: {number: 80}}}]
  tcp:
  - route: [{destination: {host: db.internal, port: {number: 5432}}}]
`
	}
	plain := client(addr, clientOptions{})
	secure := client(addr, clientOptions{roots: ca.Pool()})

	h.apply(backends + server("HTTP", ""))
	if resp, _, err := get(t, plain, "http://web.example.com/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("http: %v %v", resp, err)
	}
	// A reload that keeps the kind keeps the socket and its connections.
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	h.apply(backends + server("HTTP", ""))
	if _, err := io.WriteString(idle, "GET / HTTP/1.1\r\nHost: web.example.com\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 12)
	if _, err := io.ReadFull(idle, buf); err != nil || string(buf) != "HTTP/1.1 200" {
		t.Fatalf("connection opened before the reload: %q %v", buf, err)
	}

	h.apply(backends + server("HTTPS", "{mode: SIMPLE, credentialName: cert}"))
	if resp, _, err := get(t, secure, "https://web.example.com/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("https: %v %v", resp, err)
	}
	if _, _, err := get(t, plain, "http://web.example.com/"); err == nil {
		t.Error("plain HTTP still served after the switch to TLS")
	}

	h.apply(backends + server("TCP", ""))
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := tcpExchange(t, c, "hello"); got != "hello|db" {
		t.Errorf("tcp: got %q", got)
	}

	h.apply(backends + server("HTTP", ""))
	if resp, _, err := get(t, client(addr, clientOptions{}), "http://web.example.com/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("http again: %v %v", resp, err)
	}
}

// startTLSTCPEcho is startTCPEcho behind TLS with leaf's certificate; it
// also writes "|sni=<server name>".
func startTLSTCPEcho(t *testing.T, name string, leaf *testpki.Leaf) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf.TLS}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go echo.ServeTCP(ln, name)
	return ln.Addr().String()
}

// TestTCPRouteOriginatesTLS sends a plain TCP connection to a backend that
// only speaks TLS: the DestinationRule's tls makes the gateway originate
// it, with the configured SNI and the CA from a credential Secret. A
// backend whose certificate the CA did not sign is refused: the client's
// connection is closed without a byte from it.
func TestTCPRouteOriginatesTLS(t *testing.T) {
	h := newHarness(t)
	ca := testpki.NewCA(t, "db-ca")
	rogue := testpki.NewCA(t, "rogue-ca")
	svc, addrs := gatewayService(t, 5432, 5433)
	h.apply(svc +
		serviceEntry("db", "db.internal", 5432, "TCP", startTLSTCPEcho(t, "db", ca.Server(t, "db.internal"))) +
		serviceEntry("rogue", "rogue.internal", 5432, "TCP", startTLSTCPEcho(t, "rogue", rogue.Server(t, "db.internal"))) +
		`apiVersion: v1
kind: Secret
metadata: {name: db-ca, namespace: istio-system}
data: {ca.crt: ` + b64(ca.CertPEM) + `}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db-tls, namespace: istio-system}
spec:
  host: "*.internal"
  trafficPolicy:
    tls: {mode: SIMPLE, sni: db.internal, credentialName: db-ca}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 5432, name: tcp, protocol: TCP}
    bind: 127.0.0.1
    hosts: ["*"]
  - port: {number: 5433, name: tcp-rogue, protocol: TCP}
    bind: 127.0.0.1
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: l4, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  tcp:
  - match: [{port: 5432}]
    route: [{destination: {host: db.internal, port: {number: 5432}}}]
  - match: [{port: 5433}]
    route: [{destination: {host: rogue.internal, port: {number: 5432}}}]
`)
	c, err := net.Dial("tcp", addrs[5432])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := tcpExchange(t, c, "select 1"); got != "select 1|db|sni=db.internal" {
		t.Errorf("through TLS origination: got %q", got)
	}

	r, err := net.Dial("tcp", addrs[5433])
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := tcpExchange(t, r, "select 1"); got != "" {
		t.Errorf("untrusted backend: got %q, want the connection closed", got)
	}
}
