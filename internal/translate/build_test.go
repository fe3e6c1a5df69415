package translate

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"google.golang.org/protobuf/types/known/durationpb"
	networkingv1 "istio.io/api/networking/v1"
)

func mustNoDiags(t *testing.T, diags diag.List) {
	t.Helper()
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diags.Error())
	}
}

func hasCode(diags diag.List, code string) bool {
	for _, d := range diags {
		if d.Code == code {
			return true
		}
	}
	return false
}

func TestCanary(t *testing.T) {
	snap, diags := Build(canaryBundle(), Identity{})
	mustNoDiags(t, diags)

	if len(snap.Listeners) != 1 {
		t.Fatalf("listeners = %d, want 1", len(snap.Listeners))
	}
	l := snap.Listeners[0]
	if l.Name != "0.0.0.0_80" || l.Port != 80 || l.BindPort != 80 || l.Protocol != snapshot.ProtocolHTTP {
		t.Errorf("listener = %+v", l)
	}
	if len(l.VirtualHosts) != 1 || l.VirtualHosts[0].Name != "*" {
		t.Fatalf("virtual hosts = %+v", l.VirtualHosts)
	}
	routes := l.VirtualHosts[0].Routes
	if len(routes) != 1 {
		t.Fatalf("routes = %d, want 1", len(routes))
	}
	r := routes[0]
	if r.Name != "default/echo/0" || r.VirtualService != "default/echo" || len(r.Matches) != 0 {
		t.Errorf("route = %+v", r)
	}
	want := []snapshot.WeightedCluster{
		{Cluster: "outbound|80|v1|echoserver-service.default.svc.cluster.local", Weight: 20},
		{Cluster: "outbound|80|v2|echoserver-service.default.svc.cluster.local", Weight: 80},
	}
	if len(r.Destinations) != 2 || r.Destinations[0] != want[0] || r.Destinations[1] != want[1] {
		t.Errorf("destinations = %+v, want %+v", r.Destinations, want)
	}

	if len(snap.Clusters) != 2 {
		t.Fatalf("clusters = %d, want 2", len(snap.Clusters))
	}
	for i, version := range []string{"v1", "v2"} {
		c := snap.Cluster(want[i].Cluster)
		if c == nil {
			t.Fatalf("cluster %s missing", want[i].Cluster)
		}
		if c.Subset != version || c.Port != 80 || c.Service != "echoserver-service.default.svc.cluster.local" {
			t.Errorf("cluster = %+v", c)
		}
		// Istio's default for an unset simple policy is LEAST_REQUEST, and
		// its default connectTimeout is 10s.
		if c.LB.Kind != snapshot.LBLeastRequest || c.ConnectTimeout != 10*time.Second ||
			c.UpstreamProtocol != snapshot.UpstreamHTTP1 || c.DestinationRule != "default/all" {
			t.Errorf("cluster policy = %+v", c)
		}
		if len(c.Endpoints) != 2 {
			t.Fatalf("%s endpoints = %+v", c.Name, c.Endpoints)
		}
		for _, ep := range c.Endpoints {
			if ep.Labels["version"] != version || ep.Weight != 1 || !strings.HasPrefix(ep.Origin, "WorkloadEntry default/echo-"+version) {
				t.Errorf("endpoint = %+v", ep)
			}
		}
	}
	if got := snap.Cluster(want[0].Cluster).Endpoints; got[0].Address != "127.0.0.1:18081" || got[1].Address != "127.0.0.1:18082" {
		t.Errorf("v1 endpoints = %+v", got)
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	var first []byte
	var firstDiags string
	for i := 0; i < 5; i++ {
		b := canaryBundle()
		b.VirtualServices[0].Spec.Http[0].Match = []*networkingv1.HTTPMatchRequest{{
			Headers: map[string]*networkingv1.StringMatch{
				"x-c": prefix("c"), "x-a": prefix("a"), "x-b": {}, "x-d": regex("d+"),
			},
			QueryParams: map[string]*networkingv1.StringMatch{"q2": {}, "q1": prefix("1")},
		}}
		b.VirtualServices[0].Spec.Gateways = append(b.VirtualServices[0].Spec.Gateways, "missing-1", "missing-2", "missing-3")
		snap, diags := Build(b, Identity{})
		dump, err := snapshot.Dump(snap)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first, firstDiags = dump, diags.Error()
			continue
		}
		if !bytes.Equal(dump, first) {
			t.Fatalf("dump %d differs from the first:\n%s\n---\n%s", i, dump, first)
		}
		if diags.Error() != firstDiags {
			t.Fatalf("diagnostics %d differ:\n%s\n---\n%s", i, diags.Error(), firstDiags)
		}
	}
}

func TestBuildDoesNotModifyBundle(t *testing.T) {
	b := canaryBundle()
	before, _ := snapshot.Dump(mustBuild(t, b))
	if got := b.VirtualServices[0].Spec.Http[0].Route[0].Destination.Host; got != "echoserver-service" {
		t.Errorf("destination host rewritten to %q", got)
	}
	after, _ := snapshot.Dump(mustBuild(t, b))
	if !bytes.Equal(before, after) {
		t.Error("a second Build of the same bundle differs")
	}
}

func mustBuild(t *testing.T, b *resource.Bundle) *snapshot.Snapshot {
	t.Helper()
	snap, _ := Build(b, Identity{})
	return snap
}

func TestBuildTotalOnEmptyAndNil(t *testing.T) {
	for _, b := range []*resource.Bundle{nil, {}} {
		snap, diags := Build(b, Identity{})
		if snap == nil || len(snap.Listeners) != 0 || len(snap.Clusters) != 0 || len(diags) != 0 {
			t.Errorf("Build(%v) = %+v, %v", b, snap, diags)
		}
	}
	// Objects without specs are reported, not dereferenced.
	b := &resource.Bundle{
		Gateways:         []*resource.Gateway{{Meta: objMeta(resource.KindGateway, "a", "g")}},
		VirtualServices:  []*resource.VirtualService{{Meta: objMeta(resource.KindVirtualService, "a", "v")}},
		DestinationRules: []*resource.DestinationRule{{Meta: objMeta(resource.KindDestinationRule, "a", "d")}},
		ServiceEntries:   []*resource.ServiceEntry{{Meta: objMeta(resource.KindServiceEntry, "a", "s")}},
		WorkloadEntries:  []*resource.WorkloadEntry{{Meta: objMeta(resource.KindWorkloadEntry, "a", "w")}},
		Services:         []*resource.Service{{Meta: objMeta(resource.KindService, "a", "k")}},
	}
	_, diags := Build(b, Identity{})
	if n := len(diags); n != 5 {
		t.Errorf("diagnostics = %d, want 5 (one per spec-less object but the WorkloadEntry):\n%s", n, diags.Error())
	}
}

func TestGatewayServiceBindPort(t *testing.T) {
	b := canaryBundle()
	b.Services = append(b.Services, kubeServiceObj(DefaultNamespace, "istio-ingressgateway",
		map[string]string{"istio": "ingressgateway"}, kubePort("http2", 80, 8080), kubePort("https", 443, 8443)))
	snap, diags := Build(b, Identity{})
	mustNoDiags(t, diags)
	l := snap.Listeners[0]
	if l.Port != 80 || l.BindPort != 8080 || l.Name != "0.0.0.0_8080" {
		t.Errorf("listener = %+v, want port 80 bound on 8080", l)
	}

	// A Service in another namespace does not front the gateway.
	b.Services[1].Namespace = "default"
	snap, _ = Build(b, Identity{})
	if got := snap.Listeners[0].BindPort; got != 80 {
		t.Errorf("bind port = %d, want 80", got)
	}
}

func TestGatewayNotSelected(t *testing.T) {
	b := canaryBundle()
	b.Gateways[0].Spec.Selector = map[string]string{"istio": "egressgateway"}
	snap, diags := Build(b, Identity{})
	if len(snap.Listeners) != 0 || len(snap.Clusters) != 0 {
		t.Errorf("snapshot = %+v, want empty", snap)
	}
	if len(diags) != 1 || diags[0].Code != CodeGatewayNotSelected || diags[0].Severity != diag.Warning ||
		!strings.Contains(diags[0].Message, "istio=egressgateway") || !strings.Contains(diags[0].Message, "istio=ingressgateway") {
		t.Errorf("diagnostics = %v", diags)
	}

	// With matching custom labels it applies again.
	snap, _ = Build(b, Identity{Labels: map[string]string{"istio": "egressgateway", "app": "x"}})
	if len(snap.Listeners) != 1 {
		t.Errorf("listeners = %d, want 1", len(snap.Listeners))
	}
}

func TestVirtualServiceWithoutGateways(t *testing.T) {
	b := canaryBundle()
	b.VirtualServices[0].Spec.Gateways = nil
	snap, diags := Build(b, Identity{})
	if len(snap.Listeners[0].VirtualHosts) != 0 || len(snap.Clusters) != 0 {
		t.Errorf("a mesh-only VirtualService was bound: %+v", snap.Listeners[0])
	}
	if len(diags) != 1 || diags[0].Code != CodeMeshOnly || diags[0].Field != "spec.gateways" {
		t.Errorf("diagnostics = %v", diags)
	}
}

func TestBadRegexDropsOnlyTheRoute(t *testing.T) {
	b := canaryBundle()
	vs := b.VirtualServices[0].Spec
	vs.Http = append([]*networkingv1.HTTPRoute{{
		Match: []*networkingv1.HTTPMatchRequest{{Uri: regex("/api/(v1")}},
		Route: []*networkingv1.HTTPRouteDestination{route("echoserver-service", "v1", 0)},
	}}, vs.Http...)
	snap, diags := Build(b, Identity{})
	if len(diags) != 1 || diags[0].Code != CodeBadRegex || diags[0].Severity != diag.Error ||
		diags[0].Field != "spec.http[0].match[0].uri.regex" {
		t.Fatalf("diagnostics = %v", diags)
	}
	routes := snap.Listeners[0].VirtualHosts[0].Routes
	if len(routes) != 1 || routes[0].Name != "default/echo/1" {
		t.Errorf("routes = %+v", routes)
	}
}

func TestRegexIsAnchored(t *testing.T) {
	b := canaryBundle()
	b.VirtualServices[0].Spec.Http[0].Match = []*networkingv1.HTTPMatchRequest{{Uri: regex("/a+")}}
	snap, diags := Build(b, Identity{})
	mustNoDiags(t, diags)
	re := snap.Listeners[0].VirtualHosts[0].Routes[0].Matches[0].URI.Compiled
	if re == nil || !re.MatchString("/aaa") || re.MatchString("/aaa/b") || re.MatchString("x/a") {
		t.Errorf("compiled regex %v is not anchored", re)
	}
}

func TestZeroWeights(t *testing.T) {
	b := canaryBundle()
	dests := b.VirtualServices[0].Spec.Http[0].Route
	dests[0].Weight, dests[1].Weight = 0, 0
	snap, diags := Build(b, Identity{})
	if !hasCode(diags, CodeZeroWeights) || len(snap.Listeners[0].VirtualHosts) != 0 {
		t.Errorf("diagnostics = %v, vhosts = %+v", diags, snap.Listeners[0].VirtualHosts)
	}

	// One weight 0 among others: that destination is dropped.
	dests[1].Weight = 5
	snap, diags = Build(b, Identity{})
	mustNoDiags(t, diags)
	got := snap.Listeners[0].VirtualHosts[0].Routes[0].Destinations
	if len(got) != 1 || got[0].Weight != 5 || !strings.Contains(got[0].Cluster, "|v2|") {
		t.Errorf("destinations = %+v", got)
	}
	if len(snap.Clusters) != 1 {
		t.Errorf("clusters = %d, want only v2", len(snap.Clusters))
	}

	// A single destination takes everything whatever its weight.
	b.VirtualServices[0].Spec.Http[0].Route = dests[:1]
	snap, _ = Build(b, Identity{})
	if got := snap.Listeners[0].VirtualHosts[0].Routes[0].Destinations; len(got) != 1 || got[0].Weight != 100 {
		t.Errorf("single destination = %+v", got)
	}
}

func TestUnknownSubsetKeepsDanglingCluster(t *testing.T) {
	b := canaryBundle()
	b.VirtualServices[0].Spec.Http[0].Route[1].Destination.Subset = "v3"
	snap, diags := Build(b, Identity{})
	if len(diags) != 1 || diags[0].Code != CodeUnknownSubset || diags[0].Field != "spec.http[0].route[1].destination.subset" {
		t.Fatalf("diagnostics = %v", diags)
	}
	dangling := "outbound|80|v3|echoserver-service.default.svc.cluster.local"
	if got := snap.Listeners[0].VirtualHosts[0].Routes[0].Destinations[1].Cluster; got != dangling {
		t.Errorf("destination = %s, want %s", got, dangling)
	}
	if snap.Cluster(dangling) != nil {
		t.Error("a cluster was built for an undefined subset; Istio builds none (503 NC)")
	}
}

func TestPortLevelSettingsDoNotInherit(t *testing.T) {
	b := canaryBundle()
	b.DestinationRules[0].Spec.TrafficPolicy = &networkingv1.TrafficPolicy{
		LoadBalancer: simpleLB(networkingv1.LoadBalancerSettings_RANDOM).LoadBalancer,
		ConnectionPool: &networkingv1.ConnectionPoolSettings{
			Tcp: &networkingv1.ConnectionPoolSettings_TCPSettings{ConnectTimeout: durationpb.New(3 * time.Second)},
		},
		PortLevelSettings: []*networkingv1.TrafficPolicy_PortTrafficPolicy{{
			Port:         &networkingv1.PortSelector{Number: 80},
			LoadBalancer: simpleLB(networkingv1.LoadBalancerSettings_ROUND_ROBIN).LoadBalancer,
		}},
	}
	snap, diags := Build(b, Identity{})
	mustNoDiags(t, diags)
	for _, c := range snap.Clusters {
		// The port-level entry replaces loadBalancer and, having no
		// connectionPool, brings the connect timeout back to its default.
		if c.LB.Kind != snapshot.LBRoundRobin || c.ConnectTimeout != defaultConnectTimeout {
			t.Errorf("%s: lb %s, connect timeout %s", c.Name, c.LB.Kind, c.ConnectTimeout)
		}
	}
}

func TestSubsetPolicyOverridesComponentWise(t *testing.T) {
	b := canaryBundle()
	dr := b.DestinationRules[0].Spec
	dr.TrafficPolicy = &networkingv1.TrafficPolicy{
		LoadBalancer: simpleLB(networkingv1.LoadBalancerSettings_RANDOM).LoadBalancer,
		ConnectionPool: &networkingv1.ConnectionPoolSettings{
			Tcp: &networkingv1.ConnectionPoolSettings_TCPSettings{ConnectTimeout: durationpb.New(3 * time.Second)},
		},
	}
	dr.Subsets[1].TrafficPolicy = simpleLB(networkingv1.LoadBalancerSettings_ROUND_ROBIN)
	snap, diags := Build(b, Identity{})
	mustNoDiags(t, diags)
	v1 := snap.Cluster("outbound|80|v1|echoserver-service.default.svc.cluster.local")
	v2 := snap.Cluster("outbound|80|v2|echoserver-service.default.svc.cluster.local")
	if v1.LB.Kind != snapshot.LBRandom || v1.ConnectTimeout != 3*time.Second {
		t.Errorf("v1 = %s %s, want RANDOM 3s", v1.LB.Kind, v1.ConnectTimeout)
	}
	if v2.LB.Kind != snapshot.LBRoundRobin || v2.ConnectTimeout != 3*time.Second {
		t.Errorf("v2 = %s %s, want ROUND_ROBIN (subset) 3s (inherited)", v2.LB.Kind, v2.ConnectTimeout)
	}
}

func TestServerConflict(t *testing.T) {
	b := canaryBundle()
	b.Gateways = append(b.Gateways, gatewayObj("default", "tcp-gateway", nil, server(80, "TCP", "*")),
		gatewayObj("default", "other-http", nil, server(80, "http2", "other.example.com")))
	snap, diags := Build(b, Identity{})
	if len(snap.Listeners) != 1 {
		t.Fatalf("listeners = %+v", snap.Listeners)
	}
	if got := snap.Listeners[0].Servers; len(got) != 2 || got[0] != "default/echo-gateway/0" || got[1] != "default/other-http/0" {
		t.Errorf("merged servers = %v", got)
	}
	if len(diags) != 1 || diags[0].Code != CodeServerConflict || diags[0].Name != "tcp-gateway" ||
		!strings.Contains(diags[0].Message, "default/echo-gateway/0") {
		t.Errorf("diagnostics = %v", diags)
	}
}
