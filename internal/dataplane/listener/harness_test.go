package listener_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/dataplane"
	"github.com/meshgate/meshgate/internal/dataplane/listener"
	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/testpki"
	"github.com/meshgate/meshgate/internal/testport"
	"github.com/meshgate/meshgate/internal/translate"
)

// harness is the gateway's serving side as app.Publish wires it: the
// listener manager in front of the HTTP data plane, with L4 routes
// dialing the snapshot's endpoints. Configuration goes in as YAML and
// through translate, as from the configuration directory.
type harness struct {
	t    *testing.T
	data *dataplane.Server
	mgr  *listener.Manager
	id   translate.Identity
}

func newHarness(t *testing.T, opts ...func(*listener.Options)) *harness {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	data := dataplane.New(dataplane.Options{})
	h := &harness{t: t, data: data}
	o := listener.Options{
		Handler: data.Handler,
		Dialer:  data,
		Logger:  logger,
	}
	for _, f := range opts {
		f(&o)
	}
	h.mgr = listener.NewManager(o)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		h.mgr.Shutdown(ctx)
		data.Close()
	})
	return h
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// apply compiles yaml and publishes it as app.Publish does. It fails the
// test on decoding errors and returns the translate diagnostics.
func (h *harness) apply(yaml string) (*snapshot.Snapshot, diag.List) {
	h.t.Helper()
	bundle, diags := resource.Build([]resource.File{{Name: "test.yaml", Data: []byte(yaml)}})
	if diags.HasErrors() {
		h.t.Fatalf("configuration does not decode:\n%s", diags.Error())
	}
	snap, tdiags := translate.Build(bundle, h.id)
	if err := h.mgr.Open(snap.Listeners); err != nil {
		h.t.Fatal(err)
	}
	h.data.Apply(snap)
	keep := make([]string, 0, len(snap.Listeners))
	for _, l := range snap.Listeners {
		keep = append(keep, listener.Address(l))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	h.mgr.CloseExcept(keep)(ctx)
	return snap, tdiags
}

// freePort returns a port nothing listens on right now.
func freePort(t *testing.T) int { return testport.Free(t) }

// gatewayService maps Gateway server ports to free local ports, the way a
// Kubernetes Service maps them to the gateway pod's target ports. It
// returns the YAML and the local address of each server port.
func gatewayService(t *testing.T, ports ...int) (string, map[int]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports:
`)
	addrs := map[int]string{}
	for _, p := range ports {
		local := freePort(t)
		fmt.Fprintf(&b, "  - {name: p%d, port: %d, targetPort: %d}\n", p, p, local)
		addrs[p] = fmt.Sprintf("127.0.0.1:%d", local)
	}
	return b.String() + "---\n", addrs
}

// tlsSecret renders a kubernetes.io/tls Secret in the gateway's namespace.
func tlsSecret(name string, leaf *testpki.Leaf, ca []byte) string {
	s := fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: %s, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: %s
  tls.key: %s
`, name, b64(leaf.CertPEM), b64(leaf.KeyPEM))
	if ca != nil {
		s += "  ca.crt: " + b64(ca) + "\n"
	}
	return s + "---\n"
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// serviceEntry declares host with one port whose endpoint is addr.
func serviceEntry(name, host string, port int, protocol, addr string) string {
	ip, p, _ := net.SplitHostPort(addr)
	return fmt.Sprintf(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: %s, namespace: istio-system}
spec:
  hosts: [%s]
  ports: [{number: %d, name: %s, protocol: %s}]
  resolution: STATIC
  endpoints: [{address: %s, ports: {%s: %s}}]
---
`, name, host, port, strings.ToLower(protocol), protocol, ip, strings.ToLower(protocol), p)
}

// startEcho starts an HTTP echo backend.
func startEcho(t *testing.T, name string) string {
	t.Helper()
	s, err := echo.Start(name, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s.Addr()
}

// clientOptions shape a test client.
type clientOptions struct {
	roots *x509.CertPool
	http2 bool
	certs []tls.Certificate
}

// client returns an HTTP client that sends every request to addr,
// whatever the URL's host, which sets SNI and Host.
func client(addr string, o clientOptions) *http.Client {
	cfg := &tls.Config{RootCAs: o.roots}
	if len(o.certs) > 0 {
		// Send the certificate whatever CAs the server says it accepts,
		// as a misconfigured client would; crypto/tls would otherwise
		// hold back one the server cannot verify.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &o.certs[0], nil }
	}
	tr := &http.Transport{
		TLSClientConfig: cfg,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	tr.Protocols = new(http.Protocols)
	if o.http2 {
		tr.Protocols.SetHTTP2(true)
	} else {
		tr.Protocols.SetHTTP1(true)
	}
	return &http.Client{
		Transport: tr,
		Timeout:   5 * time.Second,
		// Tests look at redirects themselves.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// get fetches url and returns the response with its body read.
func get(t *testing.T, c *http.Client, url string) (*http.Response, string, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

// handshake dials addr with TLS and returns the server's leaf certificate.
func handshake(addr string, cfg *tls.Config) (*x509.Certificate, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0], nil
}
