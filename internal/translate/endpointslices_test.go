package translate

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meshgate/meshgate/internal/diag"
	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	networkingv1 "istio.io/api/networking/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func ptr[T any](v T) *T { return &v }

// sliceEndpointSpec is one endpoint of a test EndpointSlice.
type sliceEndpointSpec struct {
	addr, pod, node, zone      string
	ready, serving, terminated *bool
}

func sliceObj(cluster, ns, name, service string, port int32, eps ...sliceEndpointSpec) *resource.EndpointSlice {
	s := &resource.EndpointSlice{
		Meta:        objMeta(resource.KindEndpointSlice, ns, name),
		Cluster:     cluster,
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(port), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	s.Labels = map[string]string{discoveryv1.LabelServiceName: service}
	for _, e := range eps {
		out := discoveryv1.Endpoint{
			Addresses:  []string{e.addr},
			Conditions: discoveryv1.EndpointConditions{Ready: e.ready, Serving: e.serving, Terminating: e.terminated},
		}
		if e.pod != "" {
			out.TargetRef = &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: e.pod}
		}
		if e.node != "" {
			out.NodeName = ptr(e.node)
		}
		if e.zone != "" {
			out.Zone = ptr(e.zone)
		}
		s.Endpoints = append(s.Endpoints, out)
	}
	return s
}

func podObj(cluster, ns, name, node string, labels map[string]string) *resource.Pod {
	p := &resource.Pod{Meta: objMeta(resource.KindPod, ns, name), Cluster: cluster, NodeName: node}
	p.Labels = labels
	return p
}

func nodeObj(cluster, name, region, zone string) *resource.Node {
	n := &resource.Node{Meta: objMeta(resource.KindNode, "", name), Cluster: cluster}
	n.Labels = map[string]string{labelRegion: region, labelZone: zone}
	return n
}

// sliceBundle routes everything to subset "v1" of Service default/echo
// (or to the whole service when subset is empty).
func sliceBundle(subsetName string) *resource.Bundle {
	return &resource.Bundle{
		Gateways: []*resource.Gateway{
			gatewayObj("default", "gw", map[string]string{"istio": "ingressgateway"}, server(80, "HTTP", "*")),
		},
		VirtualServices: []*resource.VirtualService{
			virtualServiceObj("default", "echo", &networkingv1.VirtualService{
				Hosts: []string{"*"}, Gateways: []string{"gw"},
				Http: []*networkingv1.HTTPRoute{{Route: []*networkingv1.HTTPRouteDestination{route("echo", subsetName, 0)}}},
			}),
		},
		DestinationRules: []*resource.DestinationRule{
			destinationRuleObj("default", "echo", &networkingv1.DestinationRule{
				Host: "echo", Subsets: []*networkingv1.Subset{subset("v1", map[string]string{"version": "v1"})},
			}),
		},
		Services: []*resource.Service{
			kubeServiceObj("default", "echo", map[string]string{"app": "echo"}, kubePort("http", 80, 8080)),
		},
		Nodes: []*resource.Node{
			nodeObj("", "node-a", "eu", "eu-a"),
			nodeObj("", "node-b", "eu", "eu-b"),
		},
	}
}

func TestSliceEndpoints(t *testing.T) {
	v1 := map[string]string{"app": "echo", "version": "v1"}
	v2 := map[string]string{"app": "echo", "version": "v2"}
	pods := []*resource.Pod{
		podObj("", "default", "a", "node-a", v1),
		podObj("", "default", "b", "node-b", v1),
		podObj("", "default", "c", "node-a", v2),
		podObj("", "default", "loc", "node-a", map[string]string{"version": "v1", labelLocality: "us.us-1.rack-9"}),
	}
	type want struct {
		addr     string
		health   snapshot.EndpointHealth
		locality string
		origin   string
	}
	tests := []struct {
		name    string
		subset  string
		slices  []*resource.EndpointSlice
		want    []want
		warning string // a diagnostic message fragment expected
	}{
		{
			name:   "conditions give health",
			subset: "v1",
			slices: []*resource.EndpointSlice{sliceObj("", "default", "echo-1", "echo", 8080,
				sliceEndpointSpec{addr: "10.0.0.1", pod: "a"}, // conditions unset: ready
				sliceEndpointSpec{addr: "10.0.0.2", pod: "b", ready: ptr(false), serving: ptr(true), terminated: ptr(true)},
				sliceEndpointSpec{addr: "10.0.0.3", pod: "b", ready: ptr(false), serving: ptr(false), terminated: ptr(true)},
				sliceEndpointSpec{addr: "10.0.0.4", pod: "b", ready: ptr(false)},
				sliceEndpointSpec{addr: "10.0.0.5", pod: "b", ready: ptr(true)},
			)},
			want: []want{
				{"10.0.0.1:8080", "", "eu/eu-a", "Pod default/a"},
				{"10.0.0.2:8080", snapshot.Draining, "eu/eu-b", "Pod default/b"},
				{"10.0.0.3:8080", snapshot.Unhealthy, "eu/eu-b", "Pod default/b"},
				{"10.0.0.4:8080", snapshot.Unhealthy, "eu/eu-b", "Pod default/b"},
				{"10.0.0.5:8080", "", "eu/eu-b", "Pod default/b"},
			},
		},
		{
			name:   "subset selects Pod labels",
			subset: "v1",
			slices: []*resource.EndpointSlice{sliceObj("", "default", "echo-1", "echo", 9090,
				sliceEndpointSpec{addr: "10.0.0.1", pod: "a"},
				sliceEndpointSpec{addr: "10.0.0.3", pod: "c"},
			)},
			want: []want{{"10.0.0.1:9090", "", "eu/eu-a", "Pod default/a"}},
		},
		{
			name: "unknown Pod waits; no Pod uses the slice's node and zone",
			slices: []*resource.EndpointSlice{sliceObj("", "default", "echo-1", "echo", 8080,
				sliceEndpointSpec{addr: "10.0.0.1", pod: "not-yet"},
				sliceEndpointSpec{addr: "10.0.0.7", node: "node-b"},
				sliceEndpointSpec{addr: "10.0.0.8", zone: "far"},
			)},
			want: []want{
				{"10.0.0.7:8080", "", "eu/eu-b", "EndpointSlice default/echo-1"},
				{"10.0.0.8:8080", "", "/far", "EndpointSlice default/echo-1"},
			},
		},
		{
			name: "Pod locality label beats the Node",
			slices: []*resource.EndpointSlice{sliceObj("", "default", "echo-1", "echo", 8080,
				sliceEndpointSpec{addr: "10.0.0.9", pod: "loc"},
			)},
			want: []want{{"10.0.0.9:8080", "", "us/us-1/rack-9", "Pod default/loc"}},
		},
		{
			name: "duplicates keep the best health",
			slices: []*resource.EndpointSlice{
				sliceObj("", "default", "echo-1", "echo", 8080,
					sliceEndpointSpec{addr: "10.0.0.1", pod: "a", ready: ptr(false), serving: ptr(true), terminated: ptr(true)}),
				sliceObj("", "default", "echo-2", "echo", 8080, sliceEndpointSpec{addr: "10.0.0.1", pod: "a"}),
			},
			want: []want{{"10.0.0.1:8080", "", "eu/eu-a", "Pod default/a"}},
		},
		{
			name: "other services' slices are not used",
			slices: []*resource.EndpointSlice{
				sliceObj("", "default", "other-1", "other", 8080, sliceEndpointSpec{addr: "10.0.0.1", pod: "a"}),
				sliceObj("", "prod", "echo-1", "echo", 8080, sliceEndpointSpec{addr: "10.0.0.2"}),
			},
			want: nil,
		},
		{
			name: "FQDN slices are reported and ignored",
			slices: func() []*resource.EndpointSlice {
				s := sliceObj("", "default", "echo-1", "echo", 8080, sliceEndpointSpec{addr: "backend.example.com"})
				s.AddressType = discoveryv1.AddressTypeFQDN
				return []*resource.EndpointSlice{s}
			}(),
			warning: "address type FQDN is not supported",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := sliceBundle(tt.subset)
			b.Pods = pods
			b.EndpointSlices = tt.slices
			snap, diags := Build(b, Identity{Cluster: "home"})
			c := snap.Cluster(clusterName(80, tt.subset, "echo.default.svc.cluster.local"))
			if c == nil {
				t.Fatalf("no cluster; diagnostics:\n%v", diags)
			}
			var got []want
			for _, ep := range c.Endpoints {
				got = append(got, want{ep.Address, ep.Health, ep.Locality.String(), ep.Origin})
				if ep.Cluster != "home" {
					t.Errorf("%s: cluster %q, want the gateway's own", ep.Address, ep.Cluster)
				}
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("endpoints (-want +got):\n%s", diff)
			}
			if tt.warning != "" && !slices.ContainsFunc(diags, func(d diag.Diagnostic) bool { return strings.Contains(d.Message, tt.warning) }) {
				t.Errorf("no diagnostic containing %q in:\n%v", tt.warning, diags)
			}
		})
	}
}

// TestSliceEndpointsClusters checks that endpoints of one Service in two
// clusters are kept apart: same address, each with its cluster, its own
// Pods and Nodes.
func TestSliceEndpointsClusters(t *testing.T) {
	b := sliceBundle("v1")
	b.Pods = []*resource.Pod{
		podObj("east", "default", "a", "node-a", map[string]string{"version": "v1"}),
		podObj("west", "default", "a", "node-a", map[string]string{"version": "v1"}),
	}
	b.Nodes = []*resource.Node{nodeObj("east", "node-a", "us-east", "e1"), nodeObj("west", "node-a", "us-west", "w1")}
	b.EndpointSlices = []*resource.EndpointSlice{
		sliceObj("east", "default", "echo-1", "echo", 8080, sliceEndpointSpec{addr: "10.0.0.1", pod: "a"}),
		sliceObj("west", "default", "echo-1", "echo", 8080, sliceEndpointSpec{addr: "10.0.0.1", pod: "a"}),
	}
	snap, diags := Build(b, Identity{Cluster: "east"})
	c := snap.Cluster(clusterName(80, "v1", "echo.default.svc.cluster.local"))
	if c == nil {
		t.Fatalf("no cluster; diagnostics:\n%v", diags)
	}
	got := map[string]string{}
	for _, ep := range c.Endpoints {
		got[ep.Cluster] = ep.Locality.String()
		if ep.Labels[labelCluster] != "" {
			t.Errorf("topology labels leaked into the endpoint labels: %v", ep.Labels)
		}
	}
	if want := map[string]string{"east": "us-east/e1", "west": "us-west/w1"}; !cmp.Equal(got, want) {
		t.Errorf("clusters → localities = %v, want %v", got, want)
	}
}

// TestEndpointIdentities names each endpoint's workload identity from its
// Pod's service account ("default" when the Pod names none), in the mesh's
// trust domain, and lists them as the cluster's identities under
// ISTIO_MUTUAL.
func TestEndpointIdentities(t *testing.T) {
	b := sliceBundle("")
	b.DestinationRules[0].Spec.TrafficPolicy = &networkingv1.TrafficPolicy{
		Tls: &networkingv1.ClientTLSSettings{Mode: networkingv1.ClientTLSSettings_ISTIO_MUTUAL},
	}
	named := podObj("", "default", "a", "node-a", map[string]string{"app": "echo"})
	named.ServiceAccount = "echo"
	b.Pods = []*resource.Pod{named, podObj("", "default", "b", "node-b", map[string]string{"app": "echo"})}
	b.EndpointSlices = []*resource.EndpointSlice{sliceObj("", "default", "echo-1", "echo", 8080,
		sliceEndpointSpec{addr: "10.0.0.1", pod: "a"}, sliceEndpointSpec{addr: "10.0.0.2", pod: "b"})}
	snap, diags := Build(b, Identity{TrustDomain: "example.org"})
	c := snap.Cluster(clusterName(80, "", "echo.default.svc.cluster.local"))
	if c == nil {
		t.Fatalf("no cluster; diagnostics:\n%v", diags)
	}
	got := map[string]string{}
	for _, ep := range c.Endpoints {
		got[ep.Address] = ep.Identity
	}
	want := map[string]string{
		"10.0.0.1:8080": "spiffe://example.org/ns/default/sa/echo",
		"10.0.0.2:8080": "spiffe://example.org/ns/default/sa/default",
	}
	if !cmp.Equal(got, want) {
		t.Errorf("identities = %v, want %v", got, want)
	}
	if wantIDs := []string{"spiffe://example.org/ns/default/sa/default", "spiffe://example.org/ns/default/sa/echo"}; !cmp.Equal(c.Identities, wantIDs) {
		t.Errorf("cluster identities = %v, want %v", c.Identities, wantIDs)
	}
	if c.TLS == nil || c.TLS.SNI != "outbound_.80_._.echo.default.svc.cluster.local" || !c.TLS.VerifyIdentity {
		t.Errorf("TLS = %+v, want ISTIO_MUTUAL with Istio's SNI and identity checks", c.TLS)
	}
}
