package dataplane

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/echo"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// switchable starts an echo backend whose answers the test can change.
func switchable(t *testing.T, name string) *echo.Server {
	t.Helper()
	s, err := echo.Start(name, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// gateway is a Server on a fake clock with a test listener in front.
type gateway struct {
	srv   *Server
	clock *fakeClock
	url   string
}

func startGateway(t *testing.T, snap *snapshot.Snapshot) *gateway {
	t.Helper()
	g := &gateway{clock: newFakeClock()}
	g.srv = New(Options{Now: g.clock.Now})
	t.Cleanup(g.srv.Close)
	snap.Seal()
	g.srv.Apply(snap)
	ts := httptest.NewServer(g.srv.Handler(SocketAddress(snap.Listeners[0])))
	t.Cleanup(ts.Close)
	g.url = ts.URL
	return g
}

// do sends one request and returns the status and the backend's name.
func (g *gateway) do(t *testing.T) (int, string) {
	t.Helper()
	resp, _ := get(t, g.url, "example.com", nil)
	return resp.StatusCode, resp.Header.Get(echo.NameHeader)
}

// counts sends n requests and counts answers by backend name, with
// failures under "<status>".
func (g *gateway) counts(t *testing.T, n int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for range n {
		code, name := g.do(t)
		if code != http.StatusOK {
			name = http.StatusText(code)
		}
		out[name]++
	}
	return out
}

// cluster returns the live status of the named cluster.
func (g *gateway) cluster(t *testing.T, name string) ClusterStatus {
	t.Helper()
	for _, c := range g.srv.Clusters() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no cluster %s", name)
	return ClusterStatus{}
}

func (g *gateway) endpoint(t *testing.T, cluster, address string) EndpointStatus {
	t.Helper()
	for _, e := range g.cluster(t, cluster).Endpoints {
		if e.Address == address {
			return e
		}
	}
	t.Fatalf("no endpoint %s in %s", address, cluster)
	return EndpointStatus{}
}

// outlierCluster is a cluster whose endpoints are given as (address,
// priority) pairs, with consecutive5xxErrors 3, interval 1s, base
// ejection time 30s and no cap on ejections.
func outlierCluster(kind snapshot.LBKind, eps ...snapshot.Endpoint) *snapshot.Cluster {
	c := &snapshot.Cluster{
		Name: "c", LB: snapshot.LBPolicy{Kind: kind}, UpstreamProtocol: snapshot.UpstreamHTTP1,
		Outlier: &snapshot.OutlierPolicy{
			Consecutive5xx: 3, Interval: time.Second, BaseEjectionTime: 30 * time.Second,
			MaxEjectionTime: 300 * time.Second, MaxEjectionPercent: 100,
		},
	}
	for _, ep := range eps {
		if ep.Weight == 0 {
			ep.Weight = 1
		}
		c.Endpoints = append(c.Endpoints, ep)
	}
	return c
}

func ep(addr string, prio uint32) snapshot.Endpoint {
	return snapshot.Endpoint{Address: addr, Priority: prio}
}

// ejectByFailing sends requests until want answers were 5xx, failing
// the test if that takes more than limit requests.
func (g *gateway) ejectByFailing(t *testing.T, want, limit int) {
	t.Helper()
	failed := 0
	for i := 0; failed < want; i++ {
		if i == limit {
			t.Fatalf("only %d of %d expected 503s in %d requests", failed, want, limit)
		}
		if code, _ := g.do(t); code >= 500 {
			failed++
		}
	}
}

func TestOutlierEjectionAndReturn(t *testing.T) {
	for _, kind := range []snapshot.LBKind{snapshot.LBRoundRobin, snapshot.LBLeastRequest, snapshot.LBRandom} {
		t.Run(string(kind), func(t *testing.T) {
			bad, good := switchable(t, "bad"), switchable(t, "good")
			bad.SetStatus(http.StatusServiceUnavailable)
			g := startGateway(t, oneRouteSnapshot(routeTo("c"),
				outlierCluster(kind, ep(bad.Addr(), 0), ep(good.Addr(), 0))))

			// Three 503s in a row eject bad: every later request goes to good.
			g.ejectByFailing(t, 3, 100)
			if got := g.counts(t, 20); got["good"] != 20 {
				t.Fatalf("after 3 consecutive 503s: %v, want all 20 on good", got)
			}
			es := g.endpoint(t, "c", bad.Addr())
			if es.Health != "EJECTED" || es.Outlier == nil || !es.Outlier.Ejected ||
				es.Outlier.Ejections != 1 || es.Outlier.EjectionTimeLeft != "30s" {
				t.Fatalf("bad endpoint status = %+v %+v, want ejected once with 30s left", es, es.Outlier)
			}
			if st := g.cluster(t, "c").Outlier.Stats; st.EjectionsActive != 1 || st.EjectionsTotal != 1 {
				t.Fatalf("outlier stats = %+v, want 1 active, 1 total", st)
			}

			// The ejection lasts the base time; the injected clock moves
			// instead of the test waiting.
			bad.SetStatus(0)
			g.clock.Advance(29 * time.Second)
			g.srv.Tick()
			if got := g.counts(t, 10); got["good"] != 10 {
				t.Fatalf("29s into a 30s ejection: %v, want all on good", got)
			}
			g.clock.Advance(time.Second)
			g.srv.Tick()
			if got := g.counts(t, 40); got["bad"] == 0 || got["good"] == 0 {
				t.Fatalf("after the ejection time: %v, want both endpoints serving", got)
			}
			if es := g.endpoint(t, "c", bad.Addr()); es.Health != "HEALTHY" || es.Outlier.Ejected {
				t.Fatalf("bad endpoint after return: %+v", es)
			}
		})
	}
}

func TestOutlierStateSurvivesEqualSnapshot(t *testing.T) {
	bad, good := switchable(t, "bad"), switchable(t, "good")
	bad.SetStatus(http.StatusInternalServerError)
	mk := func() *snapshot.Snapshot {
		return oneRouteSnapshot(routeTo("c"), outlierCluster(snapshot.LBRoundRobin, ep(bad.Addr(), 0), ep(good.Addr(), 0)))
	}
	g := startGateway(t, mk())
	g.ejectByFailing(t, 3, 100)

	next := mk()
	next.Seal()
	g.srv.Apply(next)
	if got := g.counts(t, 20); got["good"] != 20 {
		t.Fatalf("after reload: %v, want the ejection kept and all on good", got)
	}
	es := g.endpoint(t, "c", bad.Addr())
	if !es.Outlier.Ejected || es.Outlier.Ejections != 1 || es.Outlier.EjectionTimeLeft != "30s" {
		t.Fatalf("after reload bad = %+v, want the same ejection", es.Outlier)
	}
	// The ejection ends when it would have without the reload.
	g.clock.Advance(30 * time.Second)
	g.srv.Tick()
	if es := g.endpoint(t, "c", bad.Addr()); es.Outlier.Ejected {
		t.Fatalf("ejection outlived its time across a reload: %+v", es.Outlier)
	}

	// Consecutive counters carry over too: two failures, a reload, and
	// one more failure make three.
	good.SetStatus(http.StatusInternalServerError)
	g.ejectByFailing(t, 4, 4) // round robin: two each
	again := mk()
	again.Seal()
	g.srv.Apply(again)
	for _, a := range []string{bad.Addr(), good.Addr()} {
		if es := g.endpoint(t, "c", a); es.Outlier.Consecutive5xx != 2 {
			t.Fatalf("%s after reload: consecutive5xx = %d, want 2 carried over", a, es.Outlier.Consecutive5xx)
		}
	}
}

func TestPriorityFailoverOnEjection(t *testing.T) {
	a, b, c := switchable(t, "p0-a"), switchable(t, "p0-b"), switchable(t, "p1")
	g := startGateway(t, oneRouteSnapshot(routeTo("c"),
		outlierCluster(snapshot.LBLeastRequest, ep(a.Addr(), 0), ep(b.Addr(), 0), ep(c.Addr(), 1))))
	if got := g.counts(t, 40); got["p1"] != 0 {
		t.Fatalf("with P0 healthy: %v, want nothing on P1", got)
	}

	a.SetStatus(http.StatusBadGateway)
	b.SetStatus(http.StatusBadGateway)
	// One P0 endpoint ejected: P0 is 50% healthy, 70% of traffic stays
	// (health 1.4 × 50 = 70), and that goes to the endpoint still in.
	g.ejectByFailing(t, 6, 200)
	if got := g.counts(t, 20); got["p1"] != 20 {
		t.Fatalf("with P0 ejected: %v, want all on P1", got)
	}
	pt := g.cluster(t, "c").Priorities
	if len(pt.Levels) != 2 || pt.Levels[0].HealthyLoad != 0 || pt.Levels[1].HealthyLoad != 100 ||
		pt.Levels[0].Healthy != 0 || pt.Levels[0].Localities[0].Endpoints[0].Health != "EJECTED" {
		t.Fatalf("priority table = %+v, want P0 0%% (ejected) and P1 100%%", pt)
	}
}

func TestLocalOriginFailuresEject(t *testing.T) {
	dead := closedAddr(t)
	good := switchable(t, "good")
	g := startGateway(t, oneRouteSnapshot(routeTo("c"), outlierCluster(snapshot.LBRoundRobin, ep(dead, 0), ep(good.Addr(), 0))))
	// Connect failures are retried on the other endpoint, so clients see
	// no error; each counts as a gateway error against the dead one.
	for range 20 {
		if code, name := g.do(t); code != 200 || name != "good" {
			t.Fatalf("got %d from %q, want 200 from good", code, name)
		}
	}
	es := g.endpoint(t, "c", dead)
	if !es.Outlier.Ejected || g.cluster(t, "c").Outlier.Stats.EjectionsConsecutive5xx != 1 {
		t.Fatalf("dead endpoint = %+v; stats %+v; want ejected by the 5xx detector",
			es.Outlier, g.cluster(t, "c").Outlier.Stats)
	}
}

func TestSourceHealthExcludesEndpoints(t *testing.T) {
	tests := []struct {
		health    snapshot.EndpointHealth
		balancing string
	}{
		{snapshot.Healthy, "flat"},
		{snapshot.Unhealthy, "priority"},
		{snapshot.Draining, "priority"},
	}
	for _, tc := range tests {
		t.Run(string(tc.health), func(t *testing.T) {
			x, y := switchable(t, "x"), switchable(t, "y")
			cl := cluster("c", snapshot.LBRoundRobin, x.Addr(), y.Addr())
			cl.Endpoints[0].Health = tc.health
			g := startGateway(t, oneRouteSnapshot(routeTo("c"), cl))
			got := g.counts(t, 20)
			if cs := g.cluster(t, "c"); string(cs.Balancing) != tc.balancing {
				t.Errorf("balancing = %s, want %s", cs.Balancing, tc.balancing)
			}
			if tc.health == snapshot.Healthy {
				if got["x"] == 0 || got["y"] == 0 {
					t.Fatalf("both healthy: %v, want both used", got)
				}
				return
			}
			if got["y"] != 20 {
				t.Fatalf("x %s: %v, want all on y", tc.health, got)
			}
			if es := g.endpoint(t, "c", x.Addr()); es.Health != string(tc.health) || es.SourceHealth != tc.health {
				t.Fatalf("x status = %+v", es)
			}
		})
	}
}
