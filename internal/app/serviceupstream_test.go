package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/translate"
)

// TestServiceUpstreamEndToEnd: with meshgate.io/upstream: service on the
// DestinationRule, the gateway connects to the Service's cluster IP (where
// a sidecar beside the gateway would intercept) with Host set to the
// service name, instead of to an endpoint. The "sidecar" here is an echo
// backend listening on the cluster IP, 127.0.0.2, and the pod one on
// 127.0.0.1.
func TestServiceUpstreamEndToEnd(t *testing.T) {
	sidecar, err := echo.Start("sidecar", "127.0.0.2:0")
	if err != nil {
		// Linux routes all of 127.0.0.0/8 to lo, so this always binds here.
		t.Fatalf("binding a second loopback address: %v", err)
	}
	defer sidecar.Close()
	pod, err := echo.Start("pod", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pod.Close()
	_, svcPort, _ := net.SplitHostPort(sidecar.Addr())
	_, podPort, _ := net.SplitHostPort(pod.Addr())
	gwPort := freePort(t)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "config.yaml"), fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http, port: 80, targetPort: %d}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [gw]
  http: [{route: [{destination: {host: reviews.default.svc.cluster.local, port: {number: %s}}}]}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  clusterIP: 127.0.0.2
  ports: [{name: http, port: %s, targetPort: %s}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-1, namespace: default}
spec: {address: 127.0.0.1, labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
  namespace: default
  annotations: {meshgate.io/upstream: service}
spec: {host: reviews.default.svc.cluster.local}
`, gwPort, svcPort, svcPort, podPort))

	ctx, cancel := context.WithCancel(context.Background())
	gw, err := Start(ctx, Options{
		ConfigPaths: []string{dir},
		Identity:    translate.Identity{Labels: map[string]string{"istio": "ingressgateway"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); gw.Shutdown(); gw.Wait() }()
	readyCtx, readyCancel := context.WithTimeout(ctx, 10*time.Second)
	defer readyCancel()
	if err := gw.WaitReady(readyCtx); err != nil {
		t.Fatalf("%v: %+v", err, gw.Status())
	}
	resp, err := newClient().Get(fmt.Sprintf("http://127.0.0.1:%d/reviews", gwPort))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get(echo.NameHeader) != "sidecar" {
		t.Fatalf("answered by %q, want the service address (the sidecar):\n%s", resp.Header.Get(echo.NameHeader), body)
	}
	if !strings.Contains(string(body), "host=reviews.default.svc.cluster.local\n") {
		t.Errorf("the upstream Host is not the service name:\n%s", body)
	}
}
