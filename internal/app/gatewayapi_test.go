package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/gatewayapi"
	"github.com/meshgate/meshgate/internal/testpki"
	"github.com/meshgate/meshgate/internal/translate"
)

// gatewayAPIConfig is a Gateway API Gateway and an HTTPRoute splitting
// /shop 80/20 between Services v1 and v2; the port and WorkloadEntries
// are filled in.
const gatewayAPIConfig = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: edge}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: %d, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: shop}
spec:
  parentRefs: [{name: web, namespace: edge}]
  hostnames: [shop.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /shop}}]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: X-Route, value: shop}]}
    backendRefs:
    - {name: v1, port: 80, weight: 80}
    - {name: v2, port: 80, weight: 20}
---
apiVersion: v1
kind: Service
metadata: {name: v1, namespace: shop}
spec: {selector: {version: v1}, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: v2, namespace: shop}
spec: {selector: {version: v2}, ports: [{name: http, port: 80}]}
`

// TestGatewayAPISplitThroughRealListener serves an HTTPRoute's 80/20
// split from a configuration directory, through a real listener.
func TestGatewayAPISplitThroughRealListener(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	var b strings.Builder
	fmt.Fprintf(&b, gatewayAPIConfig, port)
	for _, name := range []string{"v1-a", "v2-a"} {
		s, err := echo.Start(name, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		_, p, _ := net.SplitHostPort(s.Addr())
		fmt.Fprintf(&b, "---\napiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: %s, namespace: shop}\nspec: {address: 127.0.0.1, ports: {http: %s}, labels: {version: %s}}\n",
			name, p, name[:2])
	}
	writeFile(t, filepath.Join(dir, "config.yaml"), b.String())

	ctx, cancel := context.WithCancel(context.Background())
	gw, err := Start(ctx, Options{
		ConfigPaths: []string{dir},
		// The label Istio gives the Pods it runs for Gateway "web".
		Identity:   translate.Identity{Labels: map[string]string{gatewayapi.LabelGatewayName: "web"}, Namespace: "edge"},
		AdminAddr:  "127.0.0.1:0",
		StatusAddr: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); gw.Shutdown(); gw.Wait() })
	readyCtx, readyCancel := context.WithTimeout(ctx, 10*time.Second)
	defer readyCancel()
	if err := gw.WaitReady(readyCtx); err != nil {
		t.Fatalf("%v; diagnostics: %v", err, gw.Diagnostics())
	}

	client := newClient()
	get := func(host, path string) (int, string, string) {
		req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, resp.Header.Get(echo.NameHeader), resp.Header.Get("X-Route")
	}
	// Whole path segments only, and only the route's hostname.
	for _, tc := range []struct{ host, path string }{{"shop.example.com", "/shopping"}, {"other.example.com", "/shop"}} {
		if code, _, _ := get(tc.host, tc.path); code != 404 {
			t.Errorf("%s%s: status %d, want 404", tc.host, tc.path, code)
		}
	}

	const n = 4000
	counts := map[string]int{}
	for i := range n {
		path := "/shop"
		if i%2 == 1 {
			path = "/shop/cart"
		}
		code, name, route := get("shop.example.com", path)
		if code != 200 || route != "shop" {
			t.Fatalf("%s: status %d, X-Route %q; want 200 from the route", path, code, route)
		}
		counts[name]++
	}
	t.Logf("%d requests: %v", n, counts)
	// Binomial σ at p=0.2, n=4,000 is 0.63 pp; ±3 pp is > 4.5σ.
	if share := float64(counts["v2-a"]) / n; share < 0.17 || share > 0.23 {
		t.Errorf("v2 share = %.1f%%, want 20%% ± 3 pp", 100*share)
	}
}

// gatewayAPIHTTPS is an HTTPS listener terminating TLS with the
// certificate of a kubernetes.io/tls Secret next to the Gateway.
const gatewayAPIHTTPS = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: edge}
spec:
  gatewayClassName: istio
  listeners:
  - name: https
    port: %d
    protocol: HTTPS
    hostname: shop.example.com
    tls: {certificateRefs: [{name: shop-cert}]}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-cert, namespace: edge}
type: kubernetes.io/tls
stringData:
  tls.crt: |
%s
  tls.key: |
%s
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: edge}
spec:
  parentRefs: [{name: web}]
  rules: [{backendRefs: [{name: shop, port: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: edge}
spec: {selector: {app: shop}, ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: shop, namespace: edge}
spec: {address: 127.0.0.1, ports: {http: %s}, labels: {app: shop}}
`

// TestGatewayAPIHTTPS terminates TLS on a Gateway API HTTPS listener with
// the certificate its certificateRef names.
func TestGatewayAPIHTTPS(t *testing.T) {
	ca := testpki.NewCA(t, "shop-ca")
	leaf := ca.Server(t, "shop.example.com")
	s, err := echo.Start("shop", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	_, backendPort, _ := net.SplitHostPort(s.Addr())
	indent := func(pem []byte) string {
		return "    " + strings.ReplaceAll(strings.TrimSpace(string(pem)), "\n", "\n    ")
	}
	port := freePort(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config.yaml"), fmt.Sprintf(gatewayAPIHTTPS, port, indent(leaf.CertPEM), indent(leaf.KeyPEM), backendPort))

	ctx, cancel := context.WithCancel(context.Background())
	gw, err := Start(ctx, Options{
		ConfigPaths: []string{dir},
		Identity:    translate.Identity{Labels: map[string]string{gatewayapi.LabelGatewayName: "web"}, Namespace: "edge"},
		AdminAddr:   "127.0.0.1:0",
		StatusAddr:  "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); gw.Shutdown(); gw.Wait() })
	readyCtx, readyCancel := context.WithTimeout(ctx, 10*time.Second)
	defer readyCancel()
	if err := gw.WaitReady(readyCtx); err != nil {
		t.Fatalf("%v; diagnostics: %v", err, gw.Diagnostics())
	}

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "shop.example.com"},
	}}
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("https://127.0.0.1:%d/", port), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "shop.example.com"
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("TLS request: %v", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get(echo.NameHeader) != "shop" {
		t.Errorf("status %d from %q, want 200 from shop", resp.StatusCode, resp.Header.Get(echo.NameHeader))
	}
	if resp.TLS.PeerCertificates[0].SerialNumber.Cmp(leaf.Cert.SerialNumber) != 0 {
		t.Error("the served certificate is not the Secret's")
	}
}
