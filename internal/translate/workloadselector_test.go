package translate

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/meshgate/meshgate/internal/resource"
	networkingv1 "istio.io/api/networking/v1"
)

// TestServiceEntryWorkloadSelector checks which Pods and WorkloadEntries
// a ServiceEntry's workloadSelector turns into endpoints, and on which
// ports.
func TestServiceEntryWorkloadSelector(t *testing.T) {
	app := map[string]string{"app": "legacy"}
	pod := func(cluster, ns, name, node string, labels map[string]string, ips ...string) *resource.Pod {
		p := podObj(cluster, ns, name, node, labels)
		p.Ready, p.IPs = true, ips
		return p
	}
	named := pod("", "shop", "named", "node-a", app, "10.1.0.1")
	named.Ports = map[string]uint32{"http": 9090}
	notReady := pod("", "shop", "not-ready", "node-a", app, "10.1.0.2")
	notReady.Ready = false
	terminating := pod("", "shop", "terminating", "node-a", app, "10.1.0.3")
	terminating.Terminating = true
	located := pod("", "shop", "located", "node-a", map[string]string{"app": "legacy", labelLocality: "us.us-1"}, "10.1.0.4")

	b := &resource.Bundle{
		Gateways: []*resource.Gateway{
			gatewayObj("istio-system", "gw", map[string]string{"istio": "ingressgateway"}, server(80, "HTTP", "*")),
		},
		VirtualServices: []*resource.VirtualService{
			virtualServiceObj("istio-system", "legacy", &networkingv1.VirtualService{
				Hosts: []string{"*"}, Gateways: []string{"gw"},
				Http: []*networkingv1.HTTPRoute{{Route: []*networkingv1.HTTPRouteDestination{route("legacy.example.internal", "", 0)}}},
			}),
		},
		ServiceEntries: []*resource.ServiceEntry{{
			Meta: objMeta(resource.KindServiceEntry, "shop", "legacy"),
			Spec: &networkingv1.ServiceEntry{
				Hosts:            []string{"legacy.example.internal"},
				Ports:            []*networkingv1.ServicePort{{Number: 80, Name: "http", Protocol: "HTTP", TargetPort: 8080}},
				Resolution:       networkingv1.ServiceEntry_STATIC,
				WorkloadSelector: &networkingv1.WorkloadSelector{Labels: app},
			},
		}},
		WorkloadEntries: []*resource.WorkloadEntry{
			workloadEntryObj("shop", "vm", "10.2.0.1", app, nil),
			workloadEntryObj("other", "vm", "10.2.0.2", app, nil),
		},
		Pods: []*resource.Pod{
			pod("", "shop", "plain", "node-b", app, "10.1.0.5", "fd00::5"),
			named, notReady, terminating, located,
			pod("", "shop", "unselected", "node-a", map[string]string{"app": "other"}, "10.1.0.6"),
			pod("", "other", "elsewhere", "node-a", app, "10.1.0.7"),
			pod("east", "shop", "remote", "node-a", app, "10.9.0.1"),
		},
		Nodes: []*resource.Node{
			nodeObj("home", "node-a", "eu", "eu-a"),
			nodeObj("home", "node-b", "eu", "eu-b"),
			nodeObj("east", "node-a", "ap", "ap-1"),
		},
	}
	snap, diags := Build(b, Identity{Cluster: "home"})
	c := snap.Cluster(clusterName(80, "", "legacy.example.internal"))
	if c == nil {
		t.Fatalf("no cluster; diagnostics:\n%v", diags)
	}
	type got struct{ Address, Locality, Cluster, Origin string }
	var endpoints []got
	for _, ep := range c.Endpoints {
		endpoints = append(endpoints, got{ep.Address, ep.Locality.String(), ep.Cluster, ep.Origin})
	}
	want := []got{
		// Sorted by address. The targetPort serves unless a container port
		// is named like the entry port; not ready, terminating, unselected
		// Pods and those of other namespaces are left out.
		{"10.1.0.1:9090", "eu/eu-a", "home", "Pod shop/named"},
		{"10.1.0.4:8080", "us/us-1", "home", "Pod shop/located"},
		{"10.1.0.5:8080", "eu/eu-b", "home", "Pod shop/plain"},
		{"10.2.0.1:8080", "", "home", "WorkloadEntry shop/vm"},
		{"10.9.0.1:8080", "ap/ap-1", "east", "Pod shop/remote"},
		{"[fd00::5]:8080", "eu/eu-b", "home", "Pod shop/plain"},
	}
	if diff := cmp.Diff(want, endpoints); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
}
