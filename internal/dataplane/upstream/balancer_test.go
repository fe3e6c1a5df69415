package upstream

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshgate/meshgate/internal/lb"
	"github.com/meshgate/meshgate/internal/snapshot"
)

// endpoints builds n endpoints per priority level, named "p<level>-<i>".
func endpoints(perLevel ...int) []snapshot.Endpoint {
	var out []snapshot.Endpoint
	for p, n := range perLevel {
		for i := range n {
			out = append(out, snapshot.Endpoint{
				Address:  fmt.Sprintf("p%d-%d:80", p, i),
				Weight:   1,
				Priority: uint32(p),
				Locality: snapshot.Locality{Region: "r", Zone: fmt.Sprintf("z%d", p)},
			})
		}
	}
	return out
}

// build returns the runtime cluster for sc, on a deterministic Rand.
func build(t testing.TB, sc *snapshot.Cluster) *Cluster {
	t.Helper()
	sc.Name = "c"
	snap := &snapshot.Snapshot{Clusters: []*snapshot.Cluster{sc}}
	snap.Seal()
	r := NewRegistry(func() time.Time { return time.Unix(0, 0) })
	return r.Build(snap, lb.Options{Rand: rand.New(rand.NewPCG(1, 2))}).Cluster("c")
}

func TestBalancingMode(t *testing.T) {
	odPolicy := &snapshot.OutlierPolicy{Consecutive5xx: 5}
	spill := &snapshot.SpilloverPolicy{MaxActiveRequestsPerEndpoint: 10}
	unhealthy := endpoints(3)
	unhealthy[1].Health = snapshot.Unhealthy
	tests := []struct {
		name string
		sc   snapshot.Cluster
		want Balancing
	}{
		{"one priority, healthy", snapshot.Cluster{Endpoints: endpoints(3)}, BalancingFlat},
		{"no endpoints", snapshot.Cluster{}, BalancingFlat},
		{"spillover needs a second priority", snapshot.Cluster{Endpoints: endpoints(3), Spillover: spill}, BalancingFlat},
		{"two priorities", snapshot.Cluster{Endpoints: endpoints(2, 2)}, BalancingPriority},
		{"outlier detection", snapshot.Cluster{Endpoints: endpoints(3), Outlier: odPolicy}, BalancingPriority},
		{"locality weighted", snapshot.Cluster{Endpoints: endpoints(3), LocalityWeighted: true}, BalancingPriority},
		{"unhealthy endpoint", snapshot.Cluster{Endpoints: unhealthy}, BalancingPriority},
		{"spillover", snapshot.Cluster{Endpoints: endpoints(2, 2), Spillover: spill}, BalancingSpillover},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := build(t, &tc.sc).Balancing(); got != tc.want {
				t.Errorf("balancing = %s, want %s", got, tc.want)
			}
		})
	}
}

// hold puts n requests in flight on h.
func hold(h *lb.Host, n int) {
	for range n {
		h.Begin()
	}
}

// share picks n times and returns the fraction of picks per level prefix.
func share(c *Cluster, n int) map[string]float64 {
	counts := map[string]int{}
	for range n {
		if h := c.Pick(nil); h == nil {
			counts["none"]++
		} else {
			counts[h.Address[:2]]++
		}
	}
	out := map[string]float64{}
	for k, v := range counts {
		out[k] = float64(v) / float64(n)
	}
	return out
}

func TestSpillProbability(t *testing.T) {
	// Two hosts per priority and T = 2: P0 is saturated above 4 requests
	// in flight, and spills everything from 8 on.
	tests := []struct {
		active []int // in flight per P0 host
		want   float64
	}{
		{[]int{0, 0}, 0},
		{[]int{2, 2}, 0},
		{[]int{3, 2}, 0.25},
		{[]int{3, 3}, 0.5},
		{[]int{7, 0}, 0.75},
		{[]int{4, 4}, 1},
		{[]int{50, 50}, 1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.active), func(t *testing.T) {
			c := build(t, &snapshot.Cluster{
				Endpoints: endpoints(2, 2),
				Spillover: &snapshot.SpilloverPolicy{MaxActiveRequestsPerEndpoint: 2},
			})
			for i, n := range tc.active {
				hold(c.Hosts[i], n)
			}
			const picks = 20000
			got := share(c, picks)["p1"]
			// σ of a share at n = 20,000 is at most 0.35 pp.
			if math.Abs(got-tc.want) > 0.015 {
				t.Errorf("spilled %.2f%%, want %.0f%%", 100*got, 100*tc.want)
			}
			st := c.Spillover()
			if p0 := st.Priorities[0]; math.Abs(p0.SpillPercent-100*tc.want) > 1e-9 || p0.Capacity != 4 || p0.SpillsTo != 1 {
				t.Errorf("P0 status = %+v, want spill %.0f%% capacity 4 to P1", p0, 100*tc.want)
			}
			if st.Requests != picks || math.Abs(float64(st.Spilled)/picks-got) > 1e-9 {
				t.Errorf("counters = %d/%d, want %d picks and the spills seen", st.Spilled, st.Requests, picks)
			}
		})
	}
}

func TestSpillCascadesAndFollowsHealth(t *testing.T) {
	tests := []struct {
		name      string
		unhealthy []int // endpoint indexes the source marks unhealthy
		saturate  []int // endpoint indexes given 10 requests in flight
		want      string
	}{
		{"saturated P0 and P1 pass on to P2", nil, []int{0, 1, 2, 3}, "p2"},
		{"P0 down, P1 saturated: P2", []int{0, 1}, []int{2, 3}, "p2"},
		{"P0 down, P1 free: P1", []int{0, 1}, nil, "p1"},
		{"P1 down: P0 spills past it to P2", []int{2, 3}, []int{0, 1}, "p2"},
		{"nowhere to spill: stays", []int{2, 3, 4, 5}, []int{0, 1}, "p0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc := &snapshot.Cluster{
				Endpoints: endpoints(2, 2, 2),
				Spillover: &snapshot.SpilloverPolicy{MaxActiveRequestsPerEndpoint: 2},
			}
			for _, i := range tc.unhealthy {
				sc.Endpoints[i].Health = snapshot.Unhealthy
			}
			c := build(t, sc)
			for _, i := range tc.saturate {
				hold(c.Hosts[i], 10)
			}
			if got := share(c, 1000); got[tc.want] != 1 {
				t.Errorf("shares %v, want all on %s", got, tc.want)
			}
		})
	}
}

func TestOutlierReportRebuildsPicker(t *testing.T) {
	c := build(t, &snapshot.Cluster{
		Endpoints: endpoints(2, 1),
		Outlier: &snapshot.OutlierPolicy{
			Consecutive5xx: 2, Interval: time.Second, BaseEjectionTime: time.Second, MaxEjectionPercent: 100,
		},
	})
	before := c.bal.Load()
	c.Report(c.Hosts[0], 500, false)
	if c.bal.Load() != before {
		t.Fatal("picker rebuilt without a health change")
	}
	c.Report(c.Hosts[0], 500, false)
	if c.bal.Load() == before {
		t.Fatal("picker not rebuilt on ejection")
	}
	c.Report(c.Hosts[1], 0, true)
	c.Report(c.Hosts[1], 0, true)
	if got := share(c, 100); got["p1"] != 1 {
		t.Fatalf("both P0 hosts ejected: %v, want all on P1", got)
	}
}

func BenchmarkPick(b *testing.B) {
	for _, perLevel := range []int{4, 64} {
		for _, mode := range []string{"flat", "priority", "spillover"} {
			b.Run(fmt.Sprintf("%s/%d", mode, perLevel), func(b *testing.B) {
				sc := &snapshot.Cluster{Endpoints: endpoints(perLevel)}
				switch mode {
				case "priority":
					sc.Endpoints = endpoints(perLevel, perLevel)
				case "spillover":
					sc.Endpoints = endpoints(perLevel, perLevel)
					sc.Spillover = &snapshot.SpilloverPolicy{MaxActiveRequestsPerEndpoint: 100}
				}
				c := build(b, sc)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						h := c.Pick(nil)
						h.Begin()
						h.End()
					}
				})
			})
		}
	}
}
