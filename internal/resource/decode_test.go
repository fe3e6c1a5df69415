package resource

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/meshgate/meshgate/internal/diag"
	"google.golang.org/protobuf/testing/protocmp"
	networkingv1 "istio.io/api/networking/v1"
)

// wantDiag describes an expected diagnostic. Line, code and field must
// match exactly; msg and hint are substrings.
type wantDiag struct {
	line  int
	code  string
	field string
	msg   string
	hint  string
	warn  bool
}

func TestDecodeFile(t *testing.T) {
	tests := []struct {
		file    string
		objects []string // Meta.Key() of every decoded object, in bundle order
		ignored map[string]int
		diags   []wantDiag
	}{
		{
			file:    "canary.yaml",
			objects: []string{"Gateway default/echo-gateway", "VirtualService default/echoserver-vs", "DestinationRule default/echo-dr"},
		},
		{
			// Only the VirtualService with the typo is dropped.
			file:    "misspelt-weight.yaml",
			objects: []string{"Gateway default/echo-gateway", "DestinationRule default/echo-dr"},
			diags: []wantDiag{{line: 22, code: CodeUnknownField, field: "spec.http[0].route[1].wieght",
				msg: `unknown field "wieght"`, hint: `did you mean "weight"?`}},
		},
		{
			file: "nested-unknown.yaml",
			diags: []wantDiag{{line: 16, code: CodeUnknownField, field: "spec.trafficPolicy.connectionPool.tcp.maxConnection",
				msg: `unknown field "maxConnection"`, hint: `did you mean "maxConnections"?`}},
		},
		{
			// Header maps take any key; their values are still checked.
			file: "maps.yaml",
			diags: []wantDiag{{line: 18, code: CodeUnknownField, field: "spec.http[1].match[0].headers.end-user.exakt",
				msg: `unknown field "exakt"`, hint: `did you mean "exact"?`}},
		},
		{
			file:    "durations.yaml",
			objects: []string{"DestinationRule default/good-durations"},
			diags: []wantDiag{{line: 21, code: CodeInvalidValue, field: "spec.trafficPolicy.outlierDetection.interval",
				msg: `invalid duration "five"`, hint: `"5s"`}},
		},
		{
			file:    "enums.yaml",
			objects: []string{"DestinationRule default/round-robin"},
			diags: []wantDiag{{line: 18, code: CodeInvalidValue, field: "spec.trafficPolicy.loadBalancer.simple",
				msg: `unknown value "ROUND_ROBN"`, hint: `did you mean "ROUND_ROBIN"?`}},
		},
		{
			// Every problem in a document is reported, not just the first.
			file: "types.yaml",
			diags: []wantDiag{
				{line: 6, code: CodeInvalidValue, field: "spec.hosts", msg: "expected a list, got a string"},
				{line: 9, code: CodeDuplicateKey, field: "spec.http[0].match[0].uri.prefix", msg: `"exact" and "prefix" cannot both be set`},
				{line: 11, code: CodeInvalidValue, field: "spec.http[0].route[0].destination.port.number", msg: "got a string", hint: "without quotes"},
				{line: 12, code: CodeInvalidValue, field: "spec.http[0].route[0].weight", msg: "expected an integer, got a number"},
				{line: 13, code: CodeInvalidValue, field: "spec.http[0].retries.retryRemoteLocalities", msg: "expected a boolean, got a string"},
			},
		},
		{
			file:    "service.yaml",
			objects: []string{"Service default/echoserver-service"},
			diags: []wantDiag{{line: 22, code: CodeUnknownField, field: "spec.ports[0].targtPort",
				msg: `unknown field "targtPort"`, hint: `did you mean "targetPort"?`}},
		},
		{
			// The documents around the broken one still decode.
			file:    "syntax-error.yaml",
			objects: []string{"Gateway default/before", "Gateway default/after"},
			diags:   []wantDiag{{line: 11, code: CodeSyntax, msg: "YAML syntax error: did not find expected ',' or ']'"}},
		},
		{
			file: "ignored.yaml",
			ignored: map[string]int{
				"apps/v1/Deployment":                        2,
				"v1/ServiceAccount":                         1,
				"networking.istio.io/v1/Sidecar":            1,
				"gateway.networking.k8s.io/v1/GatewayClass": 1,
			},
		},
		{
			file:    "structure.yaml",
			objects: []string{"Gateway default/empty-spec"},
			diags: []wantDiag{
				{line: 1, code: CodeUnsupportedVersion, field: "apiVersion", msg: `"networking.istio.io/v2" is not supported for Gateway`},
				{line: 9, code: CodeUnknownField, field: "specs", hint: `did you mean "spec"?`},
				{line: 13, code: CodeMissingField, field: "metadata.name"},
				{line: 21, code: CodeDuplicateKey, field: "spec.selector", msg: "first set on line 20"},
				{line: 27, code: CodeInvalidValue, field: "metadata.labels.version", msg: "expected a string", hint: `quote the value: "1"`},
				{line: 30, code: CodeMissingField, field: "spec", msg: "spec is required"},
				{line: 34, code: CodeNotObject, field: "apiVersion", msg: "apiVersion is missing"},
				{line: 37, code: CodeNotObject, msg: "got a list"},
			},
		},
		{
			// Istio ignores fields it has removed; so do we, with a warning.
			file:    "removed-field.yaml",
			objects: []string{"VirtualService default/websocket"},
			diags: []wantDiag{{line: 7, code: CodeRemovedField, field: "spec.http[0].websocketUpgrade",
				msg: `"websocketUpgrade" was removed`, warn: true}},
		},
		{
			file:    "list.yaml",
			objects: []string{"VirtualService prod/from-list", "DestinationRule prod/from-list"},
		},
		{
			// Namespaces are cluster-scoped: a metadata.namespace is
			// ignored, and the spec is checked strictly all the same.
			file:    "namespace.yaml",
			objects: []string{"Service shop/reviews", "Namespace shop", "Namespace bare"},
			diags: []wantDiag{{line: 23, code: CodeUnknownField, field: "spec.finalizer",
				msg: `unknown field "finalizer"`, hint: `did you mean "finalizers"?`}},
		},
		{
			// Gateway API objects decode strictly into the
			// sigs.k8s.io/gateway-api types; a Gateway API Gateway is not
			// an Istio one.
			file: "gateway-api.yaml",
			objects: []string{"Gateway edge/web", "HTTPRoute shop/split", "GRPCRoute shop/grpc",
				"TCPRoute shop/db", "ReferenceGrant shop/from-edge"},
			diags: []wantDiag{
				{line: 43, code: CodeUnknownField, field: "spec.rules[0].backendRefs[0].wieght",
					msg: `unknown field "wieght"`, hint: `did you mean "weight"?`},
				{line: 51, code: CodeInvalidValue, field: "spec.listeners[0].port", msg: "expected an integer"},
			},
		},
		{
			file:    "object.json",
			objects: []string{"Gateway edge/json-gateway"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			name := filepath.Join("testdata", "decode", tt.file)
			data, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var b Bundle
			diags := DecodeFile(name, data, &b)
			if diff := cmp.Diff(tt.objects, keys(&b)); diff != "" {
				t.Errorf("decoded objects (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.ignored, b.Ignored); diff != "" {
				t.Errorf("ignored (-want +got):\n%s", diff)
			}
			checkDiags(t, name, diags, tt.diags)
		})
	}
}

func checkDiags(t *testing.T, file string, got diag.List, want []wantDiag) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d diagnostics, want %d:\n%s", len(got), len(want), got.Error())
		return
	}
	for i, w := range want {
		g := got[i]
		sev := diag.Error
		if w.warn {
			sev = diag.Warning
		}
		if g.Origin.File != file || g.Origin.Line != w.line || g.Code != w.code || g.Field != w.field ||
			g.Severity != sev || !strings.Contains(g.Message, w.msg) || !strings.Contains(g.Hint, w.hint) {
			t.Errorf("diagnostic %d:\n got %s [%s %s]\nwant %s:%d: %s: ...%s... (hint ...%s...) [%s %s]",
				i, g, g.Code, g.Severity, file, w.line, w.field, w.msg, w.hint, w.code, sev)
		}
	}
}

// keys lists the decoded objects in bundle order.
func keys(b *Bundle) []string {
	var out []string
	for _, m := range metas(b) {
		out = append(out, m.Key())
	}
	return out
}

func metas(b *Bundle) []*Meta {
	var out []*Meta
	for _, o := range b.Gateways {
		out = append(out, &o.Meta)
	}
	for _, o := range b.VirtualServices {
		out = append(out, &o.Meta)
	}
	for _, o := range b.DestinationRules {
		out = append(out, &o.Meta)
	}
	for _, o := range b.ServiceEntries {
		out = append(out, &o.Meta)
	}
	for _, o := range b.WorkloadEntries {
		out = append(out, &o.Meta)
	}
	for _, o := range b.Services {
		out = append(out, &o.Meta)
	}
	for _, o := range b.Namespaces {
		out = append(out, &o.Meta)
	}
	for _, o := range b.KubeGateways {
		out = append(out, &o.Meta)
	}
	for _, o := range b.HTTPRoutes {
		out = append(out, &o.Meta)
	}
	for _, o := range b.GRPCRoutes {
		out = append(out, &o.Meta)
	}
	for _, o := range b.TLSRoutes {
		out = append(out, &o.Meta)
	}
	for _, o := range b.TCPRoutes {
		out = append(out, &o.Meta)
	}
	for _, o := range b.ReferenceGrants {
		out = append(out, &o.Meta)
	}
	return out
}

func decodeTestFile(t *testing.T, file string) *Bundle {
	t.Helper()
	name := filepath.Join("testdata", "decode", file)
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var b Bundle
	if diags := DecodeFile(name, data, &b); diags.HasErrors() {
		t.Fatalf("unexpected errors:\n%s", diags.Error())
	}
	return &b
}

// TestDecodeCanary checks that the canonical canary configuration lands in
// the istio.io/api types with every value in place.
func TestDecodeCanary(t *testing.T) {
	b := decodeTestFile(t, "canary.yaml")
	if len(b.Gateways) != 1 || len(b.VirtualServices) != 1 || len(b.DestinationRules) != 1 {
		t.Fatalf("got %v", keys(b))
	}
	port80 := &networkingv1.PortSelector{Number: 80}
	wantVS := &networkingv1.VirtualService{
		Hosts:    []string{"*"},
		Gateways: []string{"echo-gateway"},
		Http: []*networkingv1.HTTPRoute{{
			Match: []*networkingv1.HTTPMatchRequest{{
				Uri: &networkingv1.StringMatch{MatchType: &networkingv1.StringMatch_Prefix{Prefix: "/"}},
			}},
			Route: []*networkingv1.HTTPRouteDestination{
				{Destination: &networkingv1.Destination{Host: "echoserver-service", Subset: "v1", Port: port80}, Weight: 20},
				{Destination: &networkingv1.Destination{Host: "echoserver-service", Subset: "v2", Port: port80}, Weight: 80},
			},
		}},
	}
	if diff := cmp.Diff(wantVS, b.VirtualServices[0].Spec, protocmp.Transform()); diff != "" {
		t.Errorf("VirtualService spec (-want +got):\n%s", diff)
	}
	wantGW := &networkingv1.Gateway{
		Selector: map[string]string{"istio": "ingressgateway"},
		Servers: []*networkingv1.Server{{
			Port:  &networkingv1.Port{Number: 80, Name: "http", Protocol: "HTTP"},
			Hosts: []string{"*"},
		}},
	}
	if diff := cmp.Diff(wantGW, b.Gateways[0].Spec, protocmp.Transform()); diff != "" {
		t.Errorf("Gateway spec (-want +got):\n%s", diff)
	}
	wantDR := &networkingv1.DestinationRule{
		Host: "*",
		Subsets: []*networkingv1.Subset{
			{Name: "v1", Labels: map[string]string{"version": "v1"}},
			{Name: "v2", Labels: map[string]string{"version": "v2"}},
		},
	}
	if diff := cmp.Diff(wantDR, b.DestinationRules[0].Spec, protocmp.Transform()); diff != "" {
		t.Errorf("DestinationRule spec (-want +got):\n%s", diff)
	}

	vs := b.VirtualServices[0]
	if vs.APIVersion != "networking.istio.io/v1" || vs.Kind != KindVirtualService {
		t.Errorf("type = %s %s", vs.APIVersion, vs.Kind)
	}
	if want := (diag.Origin{File: filepath.Join("testdata", "decode", "canary.yaml"), Line: 10}); vs.Origin != want {
		t.Errorf("origin = %v, want %v", vs.Origin, want)
	}
	for path, line := range map[string]int{
		"apiVersion":                       10,
		"metadata.name":                    12,
		"spec.hosts[0]":                    14,
		"spec.http[0].match[0].uri.prefix": 17,
		"spec.http[0].route[1]":            21,
		"spec.http[0].route[1].weight":     22,
	} {
		if got := vs.Fields[path]; got != line {
			t.Errorf("Fields[%q] = %d, want %d", path, got, line)
		}
	}
	// A defaulted field is located at its closest written ancestor.
	if got := vs.Locate("spec.http[0].route[1].destination.port.number").Line; got != 21 {
		t.Errorf("Locate(port.number) = %d, want 21", got)
	}
	if got := b.DestinationRules[0].Fields["spec.subsets[1].labels.version"]; got != 31 {
		t.Errorf("DR Fields[subsets[1].labels.version] = %d, want 31", got)
	}
}

func TestDecodeMetadata(t *testing.T) {
	b := decodeTestFile(t, "list.yaml")
	vs := b.VirtualServices[0]
	if vs.Origin.Line != 5 {
		t.Errorf("list item origin line = %d, want 5", vs.Origin.Line)
	}
	if want := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC); !vs.CreationTimestamp.Equal(want) {
		t.Errorf("creationTimestamp = %v, want %v", vs.CreationTimestamp, want)
	}
	if diff := cmp.Diff(map[string]string{"app.kubernetes.io/name": "reviews"}, vs.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	for path, line := range map[string]int{
		"metadata.name": 8,
		`metadata.labels["app.kubernetes.io/name"]`: 10,
		"spec.http[0].route[0].destination.host":    18,
		"status.observedGeneration":                 19,
	} {
		if got := vs.Fields[path]; got != line {
			t.Errorf("Fields[%q] = %d, want %d", path, got, line)
		}
	}

	// service.yaml also holds a broken Service, which is dropped.
	data, err := os.ReadFile(filepath.Join("testdata", "decode", "service.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sb Bundle
	DecodeFile("service.yaml", data, &sb)
	svc := sb.Services
	if len(svc) != 1 {
		t.Fatalf("got %d services", len(svc))
	}
	ports := svc[0].Spec.Ports
	if len(ports) != 2 || ports[0].Port != 80 || ports[0].TargetPort.IntValue() != 8080 || ports[1].TargetPort.String() != "grpc" {
		t.Errorf("ports = %+v", ports)
	}
}

// TestDecodeTopologyMetadata checks what locality-aware load balancing
// reads: a Service's spec.trafficDistribution and annotations, and a
// Namespace's labels and annotations, with no namespace of its own.
func TestDecodeTopologyMetadata(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "decode", "namespace.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var b Bundle
	DecodeFile("namespace.yaml", data, &b)
	if len(b.Services) != 1 || len(b.Namespaces) != 2 {
		t.Fatalf("got %d services and %d namespaces", len(b.Services), len(b.Namespaces))
	}
	svc := b.Services[0]
	if td := svc.Spec.TrafficDistribution; td == nil || *td != "PreferClose" {
		t.Errorf("spec.trafficDistribution = %v, want PreferClose", td)
	}
	if got := svc.Annotations["networking.istio.io/traffic-distribution"]; got != "PreferSameNode" {
		t.Errorf("Service annotation = %q, want PreferSameNode", got)
	}
	ns := b.Namespaces[0]
	if ns.Name != "shop" || ns.Namespace != "" || ns.Key() != "Namespace shop" {
		t.Errorf("namespace identity = %q/%q (%s)", ns.Namespace, ns.Name, ns.Key())
	}
	if ns.Labels["topology.istio.io/network"] != "net-1" ||
		ns.Annotations["networking.istio.io/traffic-distribution"] != "PreferClose" {
		t.Errorf("namespace metadata = %v %v", ns.Labels, ns.Annotations)
	}
	if line := ns.Fields[`metadata.annotations["networking.istio.io/traffic-distribution"]`]; line != 9 {
		t.Errorf("annotation line = %d, want 9", line)
	}
}

func TestJoinPath(t *testing.T) {
	tests := []struct{ got, want string }{
		{JoinKey("", "spec"), "spec"},
		{JoinKey("spec", "http"), "spec.http"},
		{JoinIndex(JoinKey("spec", "http"), 3), "spec.http[3]"},
		{JoinKey("metadata.labels", "app.kubernetes.io/name"), `metadata.labels["app.kubernetes.io/name"]`},
		{JoinKey("spec.headers", "x-user_id"), "spec.headers.x-user_id"},
		{JoinKey("m", ""), `m[""]`},
		{JoinKey("m", `a"b`), `m["a\"b"]`},
		{lastElement(`metadata.labels["app.kubernetes.io/name"]`), "app.kubernetes.io/name"},
		{lastElement("spec.http[0].route"), "route"},
		{parentPath(`metadata.labels["a.b"]`), "metadata.labels"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
