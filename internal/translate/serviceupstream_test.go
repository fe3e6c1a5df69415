package translate

import (
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
)

const upstreamBase = `apiVersion: networking.istio.io/v1
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
  http:
  - match: [{uri: {prefix: /svc}}]
    route: [{destination: {host: reviews.default.svc.cluster.local, port: {number: 9080}}}]
  - route: [{destination: {host: ext.example.com, port: {number: 80}}}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  clusterIP: 10.96.0.42
  ports: [{name: http, port: 9080, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-1, namespace: default}
spec: {address: 10.1.0.7, labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: istio-system}
spec:
  hosts: [ext.example.com]
  addresses: [240.0.0.9/32]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.2.0.1}]
`

func upstreamRule(ns, host, value string) string {
	return `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: upstream
  namespace: ` + ns + `
  annotations: {meshgate.io/upstream: "` + value + `"}
spec: {host: "` + host + `"}
`
}

func TestServiceUpstream(t *testing.T) {
	for _, tc := range []struct {
		name        string
		extra       string
		noClusterIP bool
		reviews     string // the reviews cluster's endpoints
		ext         string // the ext.example.com cluster's endpoints
		rewritten   bool
		codes       []string
	}{
		// Istio's behaviour: the gateway picks the endpoints (the
		// WorkloadEntry on the Service's targetPort).
		{"default: endpoints", "", false, "10.1.0.7:8080", "10.2.0.1:80", false, nil},
		// The cluster IP on the Service port, which a sidecar intercepts.
		{"service mode on one host", upstreamRule("default", "reviews.default.svc.cluster.local", "service"), false,
			"10.96.0.42:9080", "10.2.0.1:80", true, nil},
		{"service mode everywhere (root namespace, host *)", upstreamRule("istio-system", "*", "service"), false,
			"10.96.0.42:9080", "240.0.0.9:80", true, nil},
		{"explicit endpoints", upstreamRule("default", "reviews.default.svc.cluster.local", "endpoints"), false,
			"10.1.0.7:8080", "10.2.0.1:80", false, nil},
		{"bad value", upstreamRule("default", "reviews.default.svc.cluster.local", "sidecar"), false,
			"10.1.0.7:8080", "10.2.0.1:80", false, []string{CodeUpstreamMode}},
		{"no cluster IP: the name is dialled", upstreamRule("default", "reviews.default.svc.cluster.local", "service"), true,
			"reviews.default.svc.cluster.local:9080", "10.2.0.1:80", true, []string{CodeUpstreamAddress}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			input := upstreamBase + tc.extra
			if tc.noClusterIP {
				input = strings.Replace(input, "  clusterIP: 10.96.0.42\n", "", 1)
			}
			bundle, diags := resource.Build([]resource.File{{Name: "in.yaml", Data: []byte(input)}})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			snap, tdiags := Build(bundle, Identity{})
			reviews := snap.Cluster("outbound|9080||reviews.default.svc.cluster.local")
			ext := snap.Cluster("outbound|80||ext.example.com")
			if reviews == nil || ext == nil {
				t.Fatalf("clusters missing: %v", snap.Clusters)
			}
			if got := addresses(reviews); got != tc.reviews {
				t.Errorf("reviews endpoints = %s, want %s", got, tc.reviews)
			}
			if got := addresses(ext); got != tc.ext {
				t.Errorf("ext endpoints = %s, want %s", got, tc.ext)
			}
			wantHost := ""
			if tc.rewritten {
				wantHost = "reviews.default.svc.cluster.local"
			}
			if reviews.HostRewrite != wantHost {
				t.Errorf("HostRewrite = %q, want %q", reviews.HostRewrite, wantHost)
			}
			var codes []string
			for _, d := range tdiags {
				switch d.Code {
				case CodeUpstreamMode, CodeUpstreamAddress, CodeUpstreamPolicy:
					codes = append(codes, d.Code)
					if d.Severity == diag.Error && d.Code != CodeUpstreamMode {
						t.Errorf("unexpected error %v", d)
					}
				}
			}
			if strings.Join(codes, ",") != strings.Join(tc.codes, ",") {
				t.Errorf("diagnostics %v, want %v: %v", codes, tc.codes, tdiags)
			}
		})
	}
}

func addresses(c *snapshot.Cluster) string {
	var out []string
	for _, e := range c.Endpoints {
		out = append(out, e.Address)
	}
	return strings.Join(out, ",")
}
