package translate

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/snapshot"
	"github.com/meshgate/meshgate/internal/translate/testgen"
)

// TestGeneratedConfigCompiles checks that a scaled-down generated
// configuration compiles without errors into the listeners, routes and
// clusters the generator promises: one virtual host per gateway host, one
// route per VirtualService, a cluster per subset the routes use (v1, v2)
// for every service, each with half of the service's endpoints.
func TestGeneratedConfigCompiles(t *testing.T) {
	for _, we := range []bool{false, true} {
		spec := testgen.Spec{VirtualServices: 40, Hosts: 10, Services: 5, Endpoints: 100, WorkloadEntries: we}
		snap, diags := Build(testgen.Bundle(spec), Identity{})
		if len(diags) != 0 {
			t.Fatalf("WorkloadEntries=%v: diagnostics:\n%s", we, diags.Error())
		}
		if len(snap.Listeners) != 1 {
			t.Fatalf("listeners = %d, want 1", len(snap.Listeners))
		}
		routes := 0
		for _, vh := range snap.Listeners[0].VirtualHosts {
			routes += len(vh.Routes)
		}
		if got := len(snap.Listeners[0].VirtualHosts); got != spec.Hosts {
			t.Errorf("virtual hosts = %d, want %d", got, spec.Hosts)
		}
		if routes != spec.VirtualServices {
			t.Errorf("routes = %d, want %d", routes, spec.VirtualServices)
		}
		if got := len(snap.Clusters); got != 2*spec.Services {
			t.Errorf("clusters = %d, want %d", got, 2*spec.Services)
		}
		for _, c := range snap.Clusters {
			want := spec.Endpoints / spec.Services / 2
			if len(c.Endpoints) != want {
				t.Errorf("cluster %s: %d endpoints, want %d", c.Name, len(c.Endpoints), want)
			}
		}
	}
}

// BenchmarkBuildLarge compiles the scale target (10,000 VirtualServices
// over 1,000 hosts, 100,000 endpoints as WorkloadEntries) and reports the
// peak heap while compiling (peak-MiB, sampled every millisecond, minus
// the heap holding the Bundle before the build) and the size of the
// Snapshot it keeps (snapshot-MiB).
func BenchmarkBuildLarge(b *testing.B) {
	benchmarkBuild(b, testgen.Large)
}

// BenchmarkBuildLargeInline is BenchmarkBuildLarge with the endpoints
// written inline in the ServiceEntries.
func BenchmarkBuildLargeInline(b *testing.B) {
	spec := testgen.Large
	spec.WorkloadEntries = false
	benchmarkBuild(b, spec)
}

func benchmarkBuild(b *testing.B, spec testgen.Spec) {
	bundle := testgen.Bundle(spec)
	base := liveHeap()
	var peak, kept float64
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		sampler := startHeapSampler()
		b.StartTimer()
		cpu0 := processCPU()
		snap, diags := Build(bundle, Identity{})
		cpu += processCPU() - cpu0
		b.StopTimer()
		p := sampler.stop()
		if len(diags) != 0 {
			b.Fatalf("diagnostics: %s", diags[:1].Error())
		}
		peak = max(peak, float64(p-base)/(1<<20))
		kept = float64(liveHeap()-base) / (1 << 20)
		runtime.KeepAlive(snap)
		b.StartTimer()
	}
	// CPU time of the build (all threads, the collector's included) says
	// more than wall time on a shared machine.
	b.ReportMetric(cpu.Seconds()*1e3/float64(b.N), "cpu-ms/op")
	b.ReportMetric(peak, "peak-MiB")
	b.ReportMetric(kept, "snapshot-MiB")
	runtime.KeepAlive(bundle)
}

// BenchmarkBuildEndpointChange compiles the scale target after one
// WorkloadEntry moved, with the previous build's Snapshot still alive, as
// the pipeline does on an endpoint-only change. It reports how many
// clusters of the new Snapshot are the previous Snapshot's objects
// (reused-clusters) and how many were rebuilt.
func BenchmarkBuildEndpointChange(b *testing.B) {
	bundle := testgen.Bundle(testgen.Large)
	prev, _ := Build(bundle, Identity{})
	moved := testgen.WithEndpointMoved(bundle, 12345, "192.168.0.1")
	var reused, rebuilt int
	b.ResetTimer()
	for b.Loop() {
		next, diags := Build(moved, Identity{})
		if len(diags) != 0 {
			b.Fatalf("diagnostics: %s", diags[:1].Error())
		}
		reused, rebuilt = compareClusters(prev, next)
	}
	b.ReportMetric(float64(reused), "reused-clusters")
	b.ReportMetric(float64(rebuilt), "rebuilt-clusters")
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	return readHeapObjects()
}

func readHeapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapSampler records the largest heap seen while it runs. It reads
// runtime/metrics, which does not stop the world.
type heapSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func startHeapSampler() *heapSampler {
	s := &heapSampler{done: make(chan struct{}), peak: readHeapObjects()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.peak = max(s.peak, readHeapObjects())
			}
		}
	}()
	return s
}

func (s *heapSampler) stop() uint64 {
	close(s.done)
	s.wg.Wait()
	return max(s.peak, readHeapObjects())
}

// compareClusters counts the clusters of next that are the very objects
// of prev (reused) and those that were built anew (rebuilt).
func compareClusters(prev, next *snapshot.Snapshot) (reused, rebuilt int) {
	for _, c := range next.Clusters {
		if prev.Cluster(c.Name) == c {
			reused++
		} else {
			rebuilt++
		}
	}
	return reused, rebuilt
}
