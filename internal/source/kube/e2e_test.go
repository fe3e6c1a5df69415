package kube_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/snapshot"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCanary serves the canary from the cluster: a Gateway, a 20/80
// VirtualService over two DestinationRule subsets, a Service whose
// EndpointSlices list four Pods. Then it scales the subsets by editing
// the EndpointSlices under load, and deletes the VirtualService.
func TestCanary(t *testing.T) {
	e := newEnv(t)
	port := freePort(t)
	e.gateway("gw", uint32(port))
	e.splitRoute("echo", "gw", "echo", map[string]int32{"v1": 20, "v2": 80})
	e.subsets("echo")
	app := map[string]string{"app": "echo"}
	e.service("echo", app, nil)
	version := func(v string) map[string]string { return map[string]string{"app": "echo", "version": v} }
	v1a, v1b := e.backend("v1-a", version("v1"), ""), e.backend("v1-b", version("v1"), "")
	v2a, v2b := e.backend("v2-a", version("v2"), ""), e.backend("v2-b", version("v2"), "")
	e.slice("echo-1", "echo", ready(v1a, v1b, v2a, v2b))

	gw := e.startGateway(e.config, port, nil)

	var c tally
	send(port, 1000, &c)
	if len(c.failures) > 0 {
		t.Fatalf("%d requests failed, first: %s", len(c.failures), c.failures[0])
	}
	if v1 := c.share("v1-"); v1 < 0.16 || v1 > 0.24 {
		t.Errorf("v1 share = %.1f%%, want 20%% ± 4", 100*v1)
	}
	t.Logf("split: %v", c.by)

	// Under steady load, scale v1 up to three Pods and drain v2-b, as a
	// rollout does: v2-b first terminates (still serving what it has),
	// then leaves the slice.
	var (
		load    tally
		stop    atomic.Bool
		loaders sync.WaitGroup
	)
	for range 4 {
		loaders.Go(func() {
			for !stop.Load() {
				send(port, 1, &load)
			}
		})
	}
	defer func() {
		stop.Store(true)
		loaders.Wait()
	}()

	v1c := e.backend("v1-c", version("v1"), "")
	steps := []struct {
		what    string
		members []member
		// done reports whether the serving snapshot shows the step.
		done func(s *snapshot.Snapshot) bool
	}{
		{
			"v1 scaled to three",
			ready(v1a, v1b, v1c, v2a, v2b),
			func(s *snapshot.Snapshot) bool { return len(endpoints(s, "v1", e.ns)) == 3 },
		},
		{
			"v2-b terminating",
			append(ready(v1a, v1b, v1c, v2a), member{b: v2b, ready: true, terminating: true}),
			func(s *snapshot.Snapshot) bool { return endpoints(s, "v2", e.ns)[addr(v2b)] == snapshot.Draining },
		},
		{
			"v2-b gone",
			ready(v1a, v1b, v1c, v2a),
			func(s *snapshot.Snapshot) bool { _, ok := endpoints(s, "v2", e.ns)[addr(v2b)]; return !ok },
		},
	}
	for _, step := range steps {
		e.setSlice("echo-1", "echo", step.members)
		took := waitFor(t, 5*time.Second, step.what, func() bool { return step.done(gw.Snapshot()) })
		t.Logf("%s: applied in %v", step.what, took.Round(time.Millisecond))
		if took > 2*time.Second {
			t.Errorf("%s took %v to apply, want within 2s", step.what, took)
		}
	}

	// Traffic follows: v2-b gets nothing new, v1-c its share of v1.
	// 2,000 requests put ±4 pp at 4.5σ of the binomial spread.
	var after tally
	send(port, 2000, &after)
	if after.by["v2-b"] != 0 {
		t.Errorf("v2-b still got %d requests after leaving the slice", after.by["v2-b"])
	}
	if got := after.by["v1-c"]; got < 60 {
		t.Errorf("v1-c got %d of ~133 requests after joining", got)
	}
	if v1 := after.share("v1-"); v1 < 0.16 || v1 > 0.24 {
		t.Errorf("v1 share after scaling = %.1f%%, want 20%% ± 4", 100*v1)
	}
	stop.Store(true)
	loaders.Wait()
	if len(load.failures) > 0 {
		t.Errorf("%d of %d requests failed while scaling, first: %s", len(load.failures), load.total, load.failures[0])
	}
	t.Logf("%d requests under load while scaling, none failed: %v", load.total, load.by)

	// Deleting the VirtualService removes the route: 404, as Envoy
	// answers a request no route matches.
	if err := e.istio.NetworkingV1().VirtualServices(e.ns).Delete(e.ctx, "echo", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	took := waitFor(t, 5*time.Second, "the route to go", func() bool {
		_, code, err := get(port)
		return err == nil && code == http.StatusNotFound
	})
	t.Logf("route removed in %v", took.Round(time.Millisecond))
}

// endpoints returns the health of each endpoint of subset's cluster, by
// address, in the serving snapshot.
func endpoints(s *snapshot.Snapshot, subset, ns string) map[string]snapshot.EndpointHealth {
	out := map[string]snapshot.EndpointHealth{}
	if s == nil {
		return out
	}
	c := s.Cluster("outbound|80|" + subset + "|echo." + ns + ".svc.cluster.local")
	if c == nil {
		return out
	}
	for _, ep := range c.Endpoints {
		out[ep.Address] = cmpHealth(ep.Health)
	}
	return out
}

func cmpHealth(h snapshot.EndpointHealth) snapshot.EndpointHealth {
	if h == "" {
		return snapshot.Healthy
	}
	return h
}

func addr(b backend) string { return b.ip.String() + ":8080" }
