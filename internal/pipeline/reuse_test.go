package pipeline

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/meshgate/meshgate/internal/resource"
	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/translate"
	"github.com/meshgate/meshgate/internal/translate/testgen"
	networkingv1 "istio.io/api/networking/v1"
)

// recorder is a Publisher that keeps the last published snapshot.
type recorder struct{ last *snapshot.Snapshot }

func (r *recorder) Publish(s *snapshot.Snapshot) error { r.last = s; return nil }

// publish processes b and returns the snapshot that went live.
func publish(t testing.TB, p *Pipeline, rec *recorder, b *resource.Bundle) *snapshot.Snapshot {
	t.Helper()
	st := p.Process(Update{Bundle: b})
	if st.Rejected || len(st.Diagnostics) != 0 {
		t.Fatalf("update rejected or diagnosed: %+v", st.Diagnostics)
	}
	return rec.last
}

// TestUnchangedClustersAreReused moves one endpoint, changes one
// DestinationRule and republishes an identical configuration, and checks
// which clusters of the new snapshot are the previous snapshot's
// objects: exactly those whose content did not change.
func TestUnchangedClustersAreReused(t *testing.T) {
	spec := testgen.Spec{VirtualServices: 20, Hosts: 10, Services: 10, Endpoints: 200, WorkloadEntries: true}
	base := testgen.Bundle(spec)

	// Endpoint 13 belongs to service 13 % 10 = 3; it is that service's
	// second endpoint (index 1), so it carries version=v2.
	const moved = 13
	movedCluster := "outbound|80|v2|" + testgen.ServiceHost(3)

	policyChanged := *base
	policyChanged.DestinationRules = append([]*resource.DestinationRule(nil), base.DestinationRules...)
	for i, dr := range policyChanged.DestinationRules {
		if dr.Spec.Host != testgen.ServiceHost(7) {
			continue
		}
		c := *dr
		c.Spec = &networkingv1.DestinationRule{
			Host: dr.Spec.Host, Subsets: dr.Spec.Subsets,
			TrafficPolicy: &networkingv1.TrafficPolicy{LoadBalancer: &networkingv1.LoadBalancerSettings{
				LbPolicy: &networkingv1.LoadBalancerSettings_Simple{Simple: networkingv1.LoadBalancerSettings_LEAST_REQUEST},
			}},
		}
		policyChanged.DestinationRules[i] = &c
	}

	tests := []struct {
		name string
		next *resource.Bundle
		// rebuilt are the clusters expected to be new objects.
		rebuilt []string
	}{
		{name: "identical configuration", next: testgen.Bundle(spec)},
		{name: "one endpoint moved", next: testgen.WithEndpointMoved(base, moved, "192.168.0.1"), rebuilt: []string{movedCluster}},
		{name: "one DestinationRule's policy changed", next: &policyChanged, rebuilt: []string{
			"outbound|80|v1|" + testgen.ServiceHost(7), "outbound|80|v2|" + testgen.ServiceHost(7)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			p := New(translate.Identity{}, rec, nil)
			prev := publish(t, p, rec, base)
			next := publish(t, p, rec, tt.next)
			if len(next.Clusters) != len(prev.Clusters) || len(next.Clusters) != 2*spec.Services {
				t.Fatalf("clusters: %d then %d, want %d", len(prev.Clusters), len(next.Clusters), 2*spec.Services)
			}
			want := map[string]bool{}
			for _, n := range tt.rebuilt {
				want[n] = true
			}
			for _, c := range next.Clusters {
				if reused := prev.Cluster(c.Name) == c; reused == want[c.Name] {
					t.Errorf("cluster %s: reused = %v, want %v", c.Name, reused, !want[c.Name])
				}
				if next.Cluster(c.Name) != c {
					t.Errorf("cluster %s: the snapshot's index does not return the cluster in its list", c.Name)
				}
			}
		})
	}

	// The moved endpoint's cluster serves the new address, not the old.
	rec := &recorder{}
	p := New(translate.Identity{}, rec, nil)
	publish(t, p, rec, base)
	next := publish(t, p, rec, testgen.WithEndpointMoved(base, moved, "192.168.0.1"))
	var addrs []string
	for _, ep := range next.Cluster(movedCluster).Endpoints {
		addrs = append(addrs, ep.Address)
	}
	if !contains(addrs, "192.168.0.1:80") || contains(addrs, testgen.EndpointAddress(moved)+":80") {
		t.Errorf("cluster %s endpoints = %v, want the moved endpoint at 192.168.0.1:80 only", movedCluster, addrs)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// BenchmarkProcessEndpointChange publishes the scale target
// (testgen.Large) with one endpoint moving back and forth: compile,
// reuse of the unchanged clusters, publish. It reports how many clusters
// were reused and rebuilt by the last update.
func BenchmarkProcessEndpointChange(b *testing.B) {
	base := testgen.Bundle(testgen.Large)
	moved := testgen.WithEndpointMoved(base, 12345, "192.168.0.1")
	rec := &recorder{}
	p := New(translate.Identity{}, rec, nil)
	publish(b, p, rec, base)
	bundles := [2]*resource.Bundle{moved, base}
	var reused, rebuilt int
	i := 0
	b.ResetTimer()
	for b.Loop() {
		prev := rec.last
		next := publish(b, p, rec, bundles[i%2])
		i++
		reused, rebuilt = 0, 0
		for _, c := range next.Clusters {
			if prev.Cluster(c.Name) == c {
				reused++
			} else {
				rebuilt++
			}
		}
	}
	b.ReportMetric(float64(reused), "reused-clusters")
	b.ReportMetric(float64(rebuilt), "rebuilt-clusters")
}

// TestEndpointEqualCoversEveryField changes each field of an endpoint in
// turn, by reflection, and expects endpointEqual to notice: a field added
// to snapshot.Endpoint without a comparison fails here.
func TestEndpointEqualCoversEveryField(t *testing.T) {
	base := snapshot.Endpoint{
		Address: "10.0.0.1:80", Labels: map[string]string{"app": "a"},
		Locality: snapshot.Locality{Region: "r", Zone: "z", Subzone: "s"},
		Network:  "n", Weight: 1, Origin: "o", Cluster: "c", Priority: 1, LocalityWeight: 1, Health: "HEALTHY",
	}
	if !endpointEqual(&base, &base) {
		t.Fatal("an endpoint differs from itself")
	}
	typ := reflect.TypeFor[snapshot.Endpoint]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		changed := base
		changed.Labels = map[string]string{"app": "a"}
		v := reflect.ValueOf(&changed).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Uint32, reflect.Uint64, reflect.Uint:
			v.SetUint(v.Uint() + 1)
		case reflect.Map:
			v.Set(reflect.ValueOf(map[string]string{"app": "b"}))
		case reflect.Struct:
			v.Field(0).SetString(v.Field(0).String() + "x")
		default:
			t.Fatalf("field %s has kind %s; teach this test and endpointEqual about it", f.Name, v.Kind())
		}
		if endpointEqual(&base, &changed) {
			t.Errorf("endpointEqual ignores field %s", f.Name)
		}
	}
}

// BenchmarkReloadFromFiles is a full reload of the scale target from
// disk: read and decode the YAML (10,000 VirtualServices, 100,000
// WorkloadEntries, about 25 MB), compile and publish.
func BenchmarkReloadFromFiles(b *testing.B) {
	dir := b.TempDir()
	f, err := os.Create(filepath.Join(dir, "large.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	if err := testgen.WriteYAML(f, testgen.Large); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	rec := &recorder{}
	p := New(translate.Identity{}, rec, nil)
	b.ResetTimer()
	for b.Loop() {
		bundle, diags := resource.LoadPaths(dir)
		if len(diags) != 0 {
			b.Fatalf("loading: %s", diags[:1].Error())
		}
		publish(b, p, rec, bundle)
	}
}

// BenchmarkReuseClusters is the cost the reuse adds to an update of the
// scale target: comparing 2,000 clusters of 50 endpoints with the
// previous snapshot's.
func BenchmarkReuseClusters(b *testing.B) {
	base := testgen.Bundle(testgen.Large)
	prev, _ := translate.Build(base, translate.Identity{})
	next, _ := translate.Build(testgen.WithEndpointMoved(base, 12345, "192.168.0.1"), translate.Identity{})
	built := append([]*snapshot.Cluster(nil), next.Clusters...)
	reused := 0
	for b.Loop() {
		b.StopTimer()
		s := &snapshot.Snapshot{Clusters: append([]*snapshot.Cluster(nil), built...)}
		s.Seal()
		b.StartTimer()
		reused = reuseClusters(prev, s)
	}
	if reused != len(built)-1 {
		b.Fatalf("reused %d of %d clusters, want all but one", reused, len(built))
	}
}
