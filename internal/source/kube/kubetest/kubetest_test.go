package kubetest

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMain(m *testing.M) { Main(m) }

// TestControlPlane checks what every Kubernetes test relies on: the API
// server answers, serves the Istio CRDs, and pod addresses are local.
func TestControlPlane(t *testing.T) {
	cp := Shared(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := cp.API.Client().CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("namespace %s, created %v", ns.Name, ns.CreationTimestamp)
	res, err := cp.API.Client().Discovery().ServerResourcesForGroupVersion("networking.istio.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"gateways": false, "virtualservices": false, "destinationrules": false, "serviceentries": false, "workloadentries": false}
	for _, r := range res.APIResources {
		if _, ok := want[r.Name]; ok {
			want[r.Name] = true
		}
	}
	for name, found := range want {
		if !found {
			t.Errorf("networking.istio.io/v1 does not serve %s", name)
		}
	}
}

func TestPodIP(t *testing.T) {
	seen := map[string]bool{}
	for range 600 {
		ip := PodIP()
		if !PodCIDR.Contains(ip) || ip.String() == advertiseAddress {
			t.Fatalf("PodIP() = %v, outside %v or reserved", ip, PodCIDR)
		}
		if b := ip.As4(); b[3] == 0 || b[3] == 255 {
			t.Fatalf("PodIP() = %v", ip)
		}
		if seen[ip.String()] {
			t.Fatalf("PodIP() returned %v twice", ip)
		}
		seen[ip.String()] = true
	}
}
