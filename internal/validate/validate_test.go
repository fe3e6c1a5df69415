package validate

import (
	"strings"
	"testing"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/translate"
)

// finding is what a test expects: a code on a field, with its severity.
type finding struct {
	code  string
	field string
	sev   diag.Severity
}

// load decodes YAML documents into a Bundle, failing on decode errors:
// the cases below are about what decoding lets through.
func load(t *testing.T, yamlDocs string) *resource.Bundle {
	t.Helper()
	var b resource.Bundle
	if diags := resource.DecodeFile("test.yaml", []byte(yamlDocs), &b); diags.HasErrors() {
		t.Fatalf("test input does not decode: %s", diags.Error())
	}
	return &b
}

func has(ds diag.List, f finding) bool {
	for _, d := range ds {
		if d.Code == f.code && d.Field == f.field && d.Severity == f.sev {
			return true
		}
	}
	return false
}

const gwHeader = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: istio-system}\n"
const vsHeader = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: vs, namespace: default}\n"
const drHeader = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: dr, namespace: default}\n"
const seHeader = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: se, namespace: default}\n"

func TestCheck(t *testing.T) {
	E, W := diag.Error, diag.Warning
	tests := []struct {
		name string
		in   string
		want []finding
	}{
		{"gateway without servers", gwHeader + "spec: {selector: {istio: ingressgateway}}",
			[]finding{{CodeRequired, "spec.servers", E}}},
		{"server host namespace invalid", gwHeader + `spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["bad_ns/a.example.com", "*/b.example.com", "a.*.example.com"]`,
			[]finding{{translate.CodeServerHosts, "spec.servers[0].hosts[0]", E}, {translate.CodeServerHosts, "spec.servers[0].hosts[2]", E}}},
		{"server port name and protocol", gwHeader + `spec:
  servers:
  - port: {number: 70000, protocol: HTTPX}
    hosts: ["*"]`,
			[]finding{{CodeRequired, "spec.servers[0].port.name", E}, {translate.CodeServerProtocol, "spec.servers[0].port.protocol", E},
				{translate.CodeServerPort, "spec.servers[0].port.number", E}}},
		{"https without tls, duplicate port names", gwHeader + `spec:
  servers:
  - port: {number: 443, name: web, protocol: HTTPS}
    hosts: ["*"]
  - port: {number: 80, name: web, protocol: HTTP}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: x}`,
			[]finding{{translate.CodeTLSSettings, "spec.servers[0].tls", E}, {translate.CodeDuplicatePortName, "spec.servers[1].port.name", E},
				{translate.CodeTLSSettings, "spec.servers[1].tls", E}}},
		{"simple tls without certificate", gwHeader + `spec:
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE}`,
			[]finding{{translate.CodeTLSSettings, "spec.servers[0].tls.serverCertificate", E}, {translate.CodeTLSSettings, "spec.servers[0].tls.privateKey", E}}},
		{"virtual service routes", vsHeader + `spec:
  hosts: ["*"]
  http:
  - match: [{uri: {regex: "a(b"}, headers: {"bad header": {exact: x}}}]
    route:
    - destination: {host: a}
      weight: 0
    - destination: {host: b}
      weight: 0
    retries: {attempts: -1, retryOn: "5xx,bogus"}
    timeout: 0.5ms
  - redirect: {uri: /x, redirectCode: 305}
    fault: {abort: {httpStatus: 700, percentage: {value: 150}}}`,
			[]finding{{CodeHost, "spec.hosts[0]", E}, {translate.CodeBadRegex, "spec.http[0].match[0].uri.regex", E},
				{CodeMatch, `spec.http[0].match[0].headers["bad header"]`, E}, {translate.CodeZeroWeights, "spec.http[0].route", E},
				{CodeRange, "spec.http[0].retries.attempts", E}, {CodeRetryOn, "spec.http[0].retries.retryOn", E},
				{CodeDuration, "spec.http[0].timeout", E}, {translate.CodeRedirect, "spec.http[1].redirect.redirectCode", E},
				{CodeExclusive, "spec.http[1].fault", E}, {CodeFaultStatus, "spec.http[1].fault.abort.httpStatus", E},
				{CodeRange, "spec.http[1].fault.abort.percentage.value", E}}},
		{"starved destination", vsHeader + `spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http:
  - route:
    - destination: {host: a, subset: v1}
      weight: 100
    - destination: {host: a, subset: v2}
      weight: 0`,
			[]finding{{CodeStarvedDestination, "spec.http[0].route[1].weight", W}}},
		{"header operations", vsHeader + `spec:
  hosts: [a.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: a}}]
    headers:
      request: {set: {":path": /x, host: b}, remove: [host]}
      response: {add: {":status": "200"}}`,
			[]finding{{CodeHeader, `spec.http[0].headers.request.set[":path"]`, E}, {CodeHeader, "spec.http[0].headers.request.remove[0]", E},
				{CodeHeader, `spec.http[0].headers.response.add[":status"]`, E}}},
		{"tls route sni outside hosts", vsHeader + `spec:
  hosts: [a.example.com]
  gateways: [gw]
  tls:
  - match: [{sniHosts: [b.example.com]}]
    route: [{destination: {host: a}}]`,
			[]finding{{CodeHost, "spec.tls[0].match[0].sniHosts[0]", E}}},
		{"destination rule policies", drHeader + `spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      localityLbSetting:
        failover: [{from: us-east, to: us-east}]
      warmup: {minimumPercent: 150}
    connectionPool: {tcp: {maxConnections: -1, connectTimeout: 0s}}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v1
  - name: Bad_Name
    trafficPolicy: {}`,
			[]finding{{CodeLocality, "spec.trafficPolicy.loadBalancer.localityLbSetting.failover[0]", E},
				{translate.CodeFailoverWithoutOutlier, "spec.trafficPolicy.loadBalancer.localityLbSetting.failover", W},
				{CodeRequired, "spec.trafficPolicy.loadBalancer.warmup.duration", E}, {CodeRange, "spec.trafficPolicy.loadBalancer.warmup.minimumPercent", E},
				{CodeRange, "spec.trafficPolicy.connectionPool.tcp.maxConnections", E}, {CodeDuration, "spec.trafficPolicy.connectionPool.tcp.connectTimeout", E},
				{CodeDuplicate, "spec.subsets[1].name", E}, {CodeName, "spec.subsets[2].name", E}, {CodeEmpty, "spec.subsets[2].trafficPolicy", E}}},
		{"failover with inherited outlier detection", drHeader + `spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 5}
  subsets:
  - name: v1
    trafficPolicy:
      loadBalancer: {localityLbSetting: {failover: [{from: a, to: b}]}}`,
			nil},
		{"service entry rules", seHeader + `spec:
  hosts: ["*", a.example.com]
  addresses: [10.0.0.0/8, bogus]
  resolution: DNS
  ports:
  - {number: 80, name: http, protocol: HTTP}
  - {number: 80, name: http, protocol: BOGUS}
  endpoints:
  - address: 1.2.3.4
    ports: {web: 8080}`,
			[]finding{{translate.CodeServiceEntry, "spec.hosts[0]", E}, {CodeResolution, "spec.addresses[0]", E}, {CodeAddress, "spec.addresses[1]", E},
				{CodeDuplicate, "spec.ports[1].name", E}, {CodeDuplicate, "spec.ports[1].number", E}, {CodeProtocol, "spec.ports[1].protocol", E},
				{CodeName, `spec.endpoints[0].ports.web`, E}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Check(load(t, tc.in))
			for _, f := range tc.want {
				if !has(got, f) {
					t.Errorf("want %s %s on %s; got:\n%s", f.sev, f.code, f.field, got.Error())
				}
			}
			if tc.want == nil && len(got) > 0 {
				t.Errorf("want no findings, got:\n%s", got.Error())
			}
			for _, d := range got {
				if d.Code == "" || d.Field == "" || d.Origin.Line == 0 {
					t.Errorf("finding without code, field or line: %+v", d)
				}
			}
		})
	}
}

const servicesYAML = `
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: default}
spec:
  selector: {app: reviews}
  ports: [{port: 9080, name: http}]
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1, namespace: default}
spec: {address: 10.0.0.1, labels: {app: reviews, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
`

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []finding
		not  []finding
	}{
		{"mesh only and missing gateway", vsHeader + `spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs2, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: [nope]
  http: [{route: [{destination: {host: reviews}}]}]`,
			[]finding{{translate.CodeMeshOnly, "spec.gateways", diag.Warning}, {translate.CodeGatewayNotFound, "spec.gateways[0]", diag.Warning}}, nil},
		{"host not served", vsHeader + `spec:
  hosts: [other.org]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: reviews}}]}]`,
			[]finding{{translate.CodeNoHostMatch, "spec.hosts", diag.Warning}}, nil},
		{"unknown host, subset and port", vsHeader + `spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http:
  - route:
    - destination: {host: nope}
    - destination: {host: reviews, subset: v9, port: {number: 1}}`,
			[]finding{{translate.CodeUnknownService, "spec.http[0].route[0].destination.host", diag.Warning},
				{translate.CodeUnknownSubset, "spec.http[0].route[1].destination.subset", diag.Warning},
				{translate.CodeUnknownPort, "spec.http[0].route[1].destination.port.number", diag.Warning}},
			[]finding{{translate.CodeNoHostMatch, "spec.hosts", diag.Warning}}},
		{"conflicting rules and empty subset", drHeader + `spec:
  host: reviews
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr2, namespace: default}
spec:
  host: reviews.default.svc.cluster.local
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ghost, namespace: default}
spec: {host: ghost}`,
			[]finding{{translate.CodeTrafficPolicyIgnored, "spec.trafficPolicy", diag.Warning}, {translate.CodeDuplicateSubset, "spec.subsets[0].name", diag.Warning},
				{translate.CodeEmptySubset, "spec.subsets[1].labels", diag.Warning}, {CodeUnknownDestinationRuleHost, "spec.host", diag.Warning}},
			[]finding{{translate.CodeEmptySubset, "spec.subsets[0].labels", diag.Warning}}},
		{"conflicting gateways", gwHeader + `spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: [a.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw2, namespace: default}
spec:
  selector: {istio: ingressgateway, extra: x}
  servers: [{port: {number: 80, name: tcp, protocol: TCP}, hosts: [a.example.com]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw3, namespace: default}
spec:
  selector: {istio: other}
  servers: [{port: {number: 80, name: tcp, protocol: TCP}, hosts: [a.example.com]}]`,
			[]finding{{CodeConflictingGateways, "spec.servers[0].hosts[0]", diag.Warning}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if !strings.Contains(in, "kind: Gateway\n") {
				in = servicesYAML + "---\n" + in
			}
			got := Analyze(load(t, in), translate.Identity{})
			for _, f := range tc.want {
				if !has(got, f) {
					t.Errorf("want %s on %s; got:\n%s", f.code, f.field, got.Error())
				}
			}
			for _, f := range tc.not {
				if has(got, f) {
					t.Errorf("want no %s on %s; got:\n%s", f.code, f.field, got.Error())
				}
			}
		})
	}
}

// TestRunDedupes checks that a condition translate already reported for
// this gateway is not reported again, while the rest is.
func TestRunDedupes(t *testing.T) {
	b := load(t, servicesYAML+"---\n"+drHeader+`spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {localityLbSetting: {failover: [{from: a, to: b}]}}`+"\n---\n"+vsHeader+`spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: reviews}}]}]`)
	_, tdiags := translate.Build(b, translate.Identity{})
	got := Run(b, translate.Identity{}, tdiags)
	all := append(append(diag.List{}, tdiags...), got...)
	n := 0
	for _, d := range all {
		if d.Code == translate.CodeFailoverWithoutOutlier {
			n++
		}
	}
	if n != 1 {
		t.Errorf("failover without outlier reported %d times, want once:\n%s", n, all.Error())
	}
}
