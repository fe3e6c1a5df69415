package kube_test

import (
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/source/kube"
	"github.com/meshgate/meshgate/internal/translate"
	networkingv1 "istio.io/api/networking/v1"
	clientnetworking "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const annotationTD = "networking.istio.io/traffic-distribution"

// TestTopology runs one backend in each of two zones, labelled on their
// Nodes, and checks where the traffic goes for each way of setting a
// service's traffic distribution, with the gateway's zone taken from its
// own Pod's Node or from the flag.
func TestTopology(t *testing.T) {
	tests := []struct {
		name string
		// service edits the Service; namespace annotates the Namespace.
		service   func(*corev1.Service)
		namespace string
		// gatewayZone is the gateway's zone: "pod" reads it from the
		// gateway Pod (on the zone-a Node), else it is given as a flag.
		gatewayZone string
		// want is the share of traffic the zone-a backend gets.
		want float64
	}{
		{
			name:        "spec PreferClose, zone from the gateway Pod's Node",
			service:     func(s *corev1.Service) { s.Spec.TrafficDistribution = ptr("PreferClose") },
			gatewayZone: "pod",
			want:        1,
		},
		{
			name:        "spec PreferClose, zone from the flag",
			service:     func(s *corev1.Service) { s.Spec.TrafficDistribution = ptr("PreferClose") },
			gatewayZone: "zone-b",
			want:        0,
		},
		{
			name:        "Service annotation",
			service:     func(s *corev1.Service) { s.Annotations = map[string]string{annotationTD: "PreferSameZone"} },
			gatewayZone: "pod",
			want:        1,
		},
		{
			name:        "Namespace annotation",
			namespace:   "PreferClose",
			gatewayZone: "zone-b",
			want:        0,
		},
		{
			name: "spec beats a Service annotation",
			service: func(s *corev1.Service) {
				s.Spec.TrafficDistribution = ptr("PreferClose")
				s.Annotations = map[string]string{annotationTD: "Any"}
			},
			gatewayZone: "pod",
			want:        1,
		},
		{
			name:        "an unknown Service annotation is Any and hides the Namespace's",
			service:     func(s *corev1.Service) { s.Annotations = map[string]string{annotationTD: "Nearby"} },
			namespace:   "PreferClose",
			gatewayZone: "pod",
			want:        0.5,
		},
		{
			name:        "nothing set: no preference",
			gatewayZone: "pod",
			want:        0.5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			if tt.namespace != "" {
				ns, err := e.kube.CoreV1().Namespaces().Get(e.ctx, e.ns, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				ns.Annotations = map[string]string{annotationTD: tt.namespace}
				e.must(e.kube.CoreV1().Namespaces().Update(e.ctx, ns, metav1.UpdateOptions{}))
			}
			nodeA, nodeB := e.node("a", "region", "zone-a"), e.node("b", "region", "zone-b")
			a := e.backend("a", map[string]string{"app": "echo"}, nodeA)
			b := e.backend("b", map[string]string{"app": "echo"}, nodeB)
			e.service("echo", map[string]string{"app": "echo"}, tt.service)
			e.slice("echo-1", "echo", ready(a, b))
			port := freePort(t)
			e.gateway("gw", uint32(port))
			e.route("echo", "gw", "echo")

			locality := snapshot.Locality{Region: "region", Zone: tt.gatewayZone}
			if tt.gatewayZone == "pod" {
				e.backend("gateway", map[string]string{"istio": "ingressgateway"}, nodeA)
				gp, err := kube.LookupGatewayPod(e.ctx, kube.Cluster{ID: "test", Config: e.config}, e.ns, "gateway")
				if err != nil {
					t.Fatal(err)
				}
				if gp.Zone != "zone-a" || gp.Node != nodeA || gp.Labels["istio"] != "ingressgateway" {
					t.Fatalf("gateway Pod = %+v, want zone-a on %s", gp, nodeA)
				}
				locality = snapshot.Locality{Region: gp.Region, Zone: gp.Zone, Subzone: gp.Subzone}

				// The Pod's own ProxyConfig comes with it.
				pod, err := e.kube.CoreV1().Pods(e.ns).Get(e.ctx, "gateway", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				pod.Annotations = map[string]string{kube.AnnotationProxyConfig: "gatewayTopology: {numTrustedProxies: 2}"}
				e.must(e.kube.CoreV1().Pods(e.ns).Update(e.ctx, pod, metav1.UpdateOptions{}))
				if gp, err = kube.LookupGatewayPod(e.ctx, kube.Cluster{ID: "test", Config: e.config}, e.ns, "gateway"); err != nil {
					t.Fatal(err)
				}
				if gp.ProxyConfig != "gatewayTopology: {numTrustedProxies: 2}" {
					t.Errorf("ProxyConfig = %q, want the Pod's annotation", gp.ProxyConfig)
				}
			}
			gw := e.startGateway(e.config, port, func(_ *kube.Options, id *translate.Identity) { id.Locality = locality })

			var c tally
			send(port, 400, &c)
			if len(c.failures) > 0 {
				t.Fatalf("%d requests failed, first: %s", len(c.failures), c.failures[0])
			}
			got := float64(c.by["a"]) / float64(c.total)
			if diff := got - tt.want; diff > 0.1 || diff < -0.1 {
				t.Errorf("zone-a share = %.0f%%, want %.0f%% (%v); locality policy %+v",
					100*got, 100*tt.want, c.by, gw.Snapshot().Cluster("outbound|80||echo."+e.ns+".svc.cluster.local").Locality)
			}
			if tt.want != 1 {
				return
			}
			// The in-zone Pod stops being ready: traffic fails over to
			// the other zone within the debounce, with no failed request.
			e.setSlice("echo-1", "echo", []member{{b: a, ready: false}, {b: b, ready: true}})
			waitFor(t, 2*time.Second, "failover to zone-b", func() bool {
				name, code, err := get(port)
				return err == nil && code == 200 && name == "b"
			})
			var after tally
			send(port, 100, &after)
			if after.by["b"] != 100 {
				t.Errorf("after zone-a became unready: %v, failures %v", after.by, after.failures)
			}
		})
	}
}

// route creates VirtualService name sending everything on gateway gw to
// host.
func (e *env) route(name, gw, host string) {
	e.t.Helper()
	e.must(e.istio.NetworkingV1().VirtualServices(e.ns).Create(e.ctx, &clientnetworking.VirtualService{
		ObjectMeta: e.meta(name, nil),
		Spec: networkingv1.VirtualService{
			Hosts: []string{"*"}, Gateways: []string{gw},
			Http: []*networkingv1.HTTPRoute{{Route: []*networkingv1.HTTPRouteDestination{
				{Destination: &networkingv1.Destination{Host: host}},
			}}},
		},
	}, metav1.CreateOptions{}))
}
