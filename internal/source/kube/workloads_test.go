package kube_test

import (
	"net/http"
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

// setPodReady writes a Pod's status as the kubelet would: its address
// and its Ready condition.
func (e *env) setPodReady(b backend, ready bool) {
	e.t.Helper()
	pod, err := e.kube.CoreV1().Pods(e.ns).Get(e.ctx, b.name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.PodIP = b.ip.String()
	pod.Status.PodIPs = []corev1.PodIP{{IP: b.ip.String()}}
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}
	e.must(e.kube.CoreV1().Pods(e.ns).UpdateStatus(e.ctx, pod, metav1.UpdateOptions{}))
}

// routeAll creates VirtualService name sending everything on gateway gw
// to host, with the given exportTo.
func (e *env) routeAll(name, gw, host string, exportTo ...string) {
	e.t.Helper()
	e.must(e.istio.NetworkingV1().VirtualServices(e.ns).Create(e.ctx, &clientnetworking.VirtualService{
		ObjectMeta: e.meta(name, nil),
		Spec: networkingv1.VirtualService{
			Hosts: []string{"*"}, Gateways: []string{gw}, ExportTo: exportTo,
			Http: []*networkingv1.HTTPRoute{{Route: []*networkingv1.HTTPRouteDestination{{
				Destination: &networkingv1.Destination{Host: host, Port: &networkingv1.PortSelector{Number: 80}},
			}}}},
		},
	}, metav1.CreateOptions{}))
}

// clusterEndpoints counts the endpoints of the cluster for host port 80.
func clusterEndpoints(s *snapshot.Snapshot, host string) int {
	if c := s.Cluster("outbound|80||" + host); c != nil {
		return len(c.Endpoints)
	}
	return -1
}

// TestServiceEntryPods serves a ServiceEntry whose workloadSelector
// selects Pods: the ready ones answer, on the entry's targetPort, and a
// Pod that stops being ready stops getting requests.
func TestServiceEntryPods(t *testing.T) {
	e := newEnv(t)
	port := freePort(t)
	const host = "legacy.example.internal"
	e.gateway("gw", uint32(port))
	e.routeAll("legacy", "gw", host)
	e.must(e.istio.NetworkingV1().ServiceEntries(e.ns).Create(e.ctx, &clientnetworking.ServiceEntry{
		ObjectMeta: e.meta("legacy", nil),
		Spec: networkingv1.ServiceEntry{
			Hosts:            []string{host},
			Ports:            []*networkingv1.ServicePort{{Number: 80, Name: "http", Protocol: "HTTP", TargetPort: backendPort}},
			Resolution:       networkingv1.ServiceEntry_STATIC,
			WorkloadSelector: &networkingv1.WorkloadSelector{Labels: map[string]string{"app": "legacy"}},
		},
	}, metav1.CreateOptions{}))
	app := map[string]string{"app": "legacy"}
	a, b := e.backend("legacy-a", app, ""), e.backend("legacy-b", app, "")
	other := e.backend("other", map[string]string{"app": "other"}, "")
	for _, p := range []backend{a, b, other} {
		e.setPodReady(p, true)
	}

	gw := e.startGateway(e.config, port, nil)
	waitFor(t, 5*time.Second, "both Pods as endpoints", func() bool { return clusterEndpoints(gw.Snapshot(), host) == 2 })

	var before tally
	send(port, 200, &before)
	if len(before.failures) > 0 {
		t.Fatalf("%d requests failed, first: %s", len(before.failures), before.failures[0])
	}
	if before.by["legacy-a"] == 0 || before.by["legacy-b"] == 0 || before.by["other"] != 0 {
		t.Errorf("answers = %v, want both legacy Pods and not the other", before.by)
	}

	e.setPodReady(b, false)
	waitFor(t, 5*time.Second, "the unready Pod to leave", func() bool { return clusterEndpoints(gw.Snapshot(), host) == 1 })
	var after tally
	send(port, 100, &after)
	if len(after.failures) > 0 || after.by["legacy-a"] != 100 {
		t.Errorf("after legacy-b became unready: answers %v, failures %v; want all 100 from legacy-a", after.by, after.failures)
	}
}

// TestExportTo runs the gateway as if in another namespace: a
// VirtualService exported only to its own namespace is not served (404),
// and is once its exportTo names the gateway's namespace.
func TestExportTo(t *testing.T) {
	e := newEnv(t)
	port := freePort(t)
	e.gateway("gw", uint32(port))
	e.routeAll("echo", "gw", "echo", ".")
	e.service("echo", map[string]string{"app": "echo"}, nil)
	be := e.backend("echo-a", map[string]string{"app": "echo"}, "")
	e.slice("echo-1", "echo", ready(be))

	const gatewayNamespace = "gateways"
	gw := e.startGateway(e.config, port, func(_ *kube.Options, id *translate.Identity) { id.Namespace = gatewayNamespace })
	if _, code, err := get(port); err != nil || code != http.StatusNotFound {
		t.Errorf("VirtualService exported to \".\" only: status %d (%v), want 404", code, err)
	}

	vs, err := e.istio.NetworkingV1().VirtualServices(e.ns).Get(e.ctx, "echo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vs.Spec.ExportTo = []string{".", gatewayNamespace}
	e.must(e.istio.NetworkingV1().VirtualServices(e.ns).Update(e.ctx, vs, metav1.UpdateOptions{}))
	waitFor(t, 5*time.Second, "the route to appear", func() bool {
		return len(gw.Snapshot().Listeners) > 0 && clusterEndpoints(gw.Snapshot(), "echo."+e.ns+".svc.cluster.local") == 1
	})
	var c tally
	send(port, 20, &c)
	if len(c.failures) > 0 || c.by["echo-a"] != 20 {
		t.Errorf("exported to the gateway's namespace: answers %v, failures %v; want 20 from echo-a", c.by, c.failures)
	}
}
