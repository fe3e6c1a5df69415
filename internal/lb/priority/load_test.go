package priority

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// lv is shorthand for a level of total hosts, healthy and degraded.
func lv(total, healthy, degraded int) Level {
	return Level{Total: total, Healthy: healthy, Degraded: degraded}
}

func TestComputeLoad(t *testing.T) {
	full := lv(100, 100, 0)
	tests := []struct {
		name      string
		levels    []Level
		ovp       float64
		threshold int
		healthy   []int
		degraded  []int
		panic     []bool
		nth       int
	}{
		// priority.rst, two levels with P1 fully healthy.
		{"P0 100%", []Level{lv(100, 100, 0), full}, 1.4, 50, []int{100, 0}, []int{0, 0}, []bool{false, false}, 100},
		{"P0 80%", []Level{lv(100, 80, 0), full}, 1.4, 50, []int{100, 0}, []int{0, 0}, []bool{false, false}, 100},
		{"P0 72%", []Level{lv(100, 72, 0), full}, 1.4, 50, []int{100, 0}, []int{0, 0}, []bool{false, false}, 100},
		{"P0 71%", []Level{lv(100, 71, 0), full}, 1.4, 50, []int{99, 1}, []int{0, 0}, []bool{false, false}, 100},
		{"P0 50%", []Level{lv(100, 50, 0), full}, 1.4, 50, []int{70, 30}, []int{0, 0}, []bool{false, false}, 100},
		{"P0 25%", []Level{lv(100, 25, 0), full}, 1.4, 50, []int{35, 65}, []int{0, 0}, []bool{false, false}, 100},
		{"P0 0%", []Level{lv(100, 0, 0), full}, 1.4, 50, []int{0, 100}, []int{0, 0}, []bool{false, false}, 100},
		// priority.rst, both levels degrading together.
		{"72/72", []Level{lv(100, 72, 0), lv(100, 72, 0)}, 1.4, 50, []int{100, 0}, []int{0, 0}, []bool{false, false}, 100},
		{"71/71", []Level{lv(100, 71, 0), lv(100, 71, 0)}, 1.4, 50, []int{99, 1}, []int{0, 0}, []bool{false, false}, 100},
		{"50/50", []Level{lv(100, 50, 0), lv(100, 50, 0)}, 1.4, 50, []int{70, 30}, []int{0, 0}, []bool{false, false}, 100},
		// panic_threshold.rst prints 50/50 and 25/75 for the next two rows;
		// its own algorithm (and Envoy's code) gives 70/30 and 35/65.
		{"50/60", []Level{lv(100, 50, 0), lv(100, 60, 0)}, 1.4, 50, []int{70, 30}, []int{0, 0}, []bool{false, false}, 100},
		{"25/100", []Level{lv(100, 25, 0), full}, 1.4, 50, []int{35, 65}, []int{0, 0}, []bool{false, false}, 100},
		// Health {20, 30} normalised to {40, 60} (priority.rst): 1/7 and
		// 3/14 healthy. With panic disabled the pure priority maths shows.
		{"health 20/30", []Level{lv(7, 1, 0), lv(14, 3, 0)}, 1.4, 0, []int{40, 60}, []int{0, 0}, []bool{false, false}, 50},
		// The same hosts under the default threshold: both levels are below
		// 50%, so total panic splits by host count, 7:14.
		{"health 20/30 total panic", []Level{lv(7, 1, 0), lv(14, 3, 0)}, 1.4, 50, []int{34, 66}, []int{0, 0}, []bool{true, true}, 50},
		// panic_threshold.rst: 25%/25% → 50/50, both in panic.
		{"25/25 panic", []Level{lv(4, 1, 0), lv(4, 1, 0)}, 1.4, 50, []int{50, 50}, []int{0, 0}, []bool{true, true}, 70},
		// panic_threshold.rst: 5%/65% → only P0 in panic, NTH 98. The page
		// prints 7/93; Envoy's code gives the truncation remainder to the
		// first healthy level: 7 + 1 and 92.
		{"5/65 P0 panic", []Level{lv(100, 5, 0), lv(100, 65, 0)}, 1.4, 50, []int{8, 92}, []int{0, 0}, []bool{true, false}, 98},
		{"5/65 panic disabled", []Level{lv(100, 5, 0), lv(100, 65, 0)}, 1.4, 0, []int{8, 92}, []int{0, 0}, []bool{false, false}, 98},
		// degraded.rst, one level, healthy/degraded/unhealthy percent.
		{"100/0/0", []Level{lv(100, 100, 0)}, 1.4, 50, []int{100}, []int{0}, []bool{false}, 100},
		{"71/0/29", []Level{lv(100, 71, 0)}, 1.4, 50, []int{100}, []int{0}, []bool{false}, 99},
		{"71/29/0", []Level{lv(100, 71, 29)}, 1.4, 50, []int{99}, []int{1}, []bool{false}, 100},
		{"25/65/10", []Level{lv(100, 25, 65)}, 1.4, 50, []int{35}, []int{65}, []bool{false}, 100},
		{"5/0/95", []Level{lv(100, 5, 0)}, 1.4, 50, []int{100}, []int{0}, []bool{true}, 7},
		// Envoy's code comment: health 10/20/10 and degraded 20/10/0 give
		// 16/28/14 healthy and 28/14/0 degraded, P0 taking the remainder.
		{"healthy and degraded remainder", []Level{lv(14, 1, 2), lv(14, 2, 1), lv(14, 1, 0)}, 1.4, 0,
			[]int{16, 28, 14}, []int{28, 14, 0}, []bool{false, false, false}, 70},
		// priority.rst, three levels.
		{"3P 25/25/100", []Level{lv(4, 1, 0), lv(4, 1, 0), lv(4, 4, 0)}, 1.4, 50, []int{35, 35, 30}, []int{0, 0, 0}, []bool{false, false, false}, 100},
		// The page prints 36/36/28; the code gives P0 the remainder of 2.
		{"3P 25/25/20", []Level{lv(4, 1, 0), lv(4, 1, 0), lv(5, 1, 0)}, 1.4, 0, []int{37, 35, 28}, []int{0, 0, 0}, []bool{false, false, false}, 98},
		// Envoy's load balancer tests, three levels, threshold 50.
		{"3P all healthy", []Level{lv(1, 1, 0), lv(1, 1, 0), lv(1, 1, 0)}, 1.4, 50, []int{100, 0, 0}, []int{0, 0, 0}, []bool{false, false, false}, 100},
		{"3P half", []Level{lv(2, 1, 0), lv(2, 1, 0), lv(2, 1, 0)}, 1.4, 50, []int{70, 30, 0}, []int{0, 0, 0}, []bool{false, false, false}, 100},
		{"3P spill to P1", []Level{lv(4, 1, 0), lv(2, 2, 0), lv(2, 1, 0)}, 1.4, 50, []int{35, 65, 0}, []int{0, 0, 0}, []bool{false, false, false}, 100},
		{"3P quarter", []Level{lv(4, 1, 0), lv(4, 1, 0), lv(4, 1, 0)}, 1.4, 50, []int{35, 35, 30}, []int{0, 0, 0}, []bool{false, false, false}, 100},
		{"3P fifth total panic", []Level{lv(5, 1, 0), lv(5, 1, 0), lv(5, 1, 0)}, 1.4, 50, []int{34, 33, 33}, []int{0, 0, 0}, []bool{true, true, true}, 84},
		{"3P only P2", []Level{lv(5, 0, 0), lv(5, 0, 0), lv(5, 5, 0)}, 1.4, 50, []int{0, 0, 100}, []int{0, 0, 0}, []bool{false, false, false}, 100},
		{"3P only P2 at 80%", []Level{lv(5, 0, 0), lv(5, 0, 0), lv(5, 4, 0)}, 1.4, 50, []int{0, 0, 100}, []int{0, 0, 0}, []bool{false, false, false}, 100},
		{"3P only P2 at 40%", []Level{lv(5, 0, 0), lv(5, 0, 0), lv(5, 2, 0)}, 1.4, 50, []int{34, 33, 33}, []int{0, 0, 0}, []bool{true, true, true}, 56},
		{"3P degraded P0", []Level{lv(5, 0, 5), lv(5, 2, 2), lv(5, 2, 0)}, 1.4, 50, []int{0, 56, 44}, []int{0, 0, 0}, []bool{false, false, false}, 100},
		{"3P all down by count", []Level{lv(5, 0, 0), lv(3, 0, 0), lv(2, 0, 0)}, 1.4, 50, []int{50, 30, 20}, []int{0, 0, 0}, []bool{true, true, true}, 0},
		{"3P total panic remainder", []Level{lv(5, 0, 0), lv(6, 2, 0), lv(3, 1, 0)}, 1.4, 50, []int{37, 42, 21}, []int{0, 0, 0}, []bool{true, true, true}, 92},
		{"3P spill to degraded", []Level{lv(5, 0, 1), lv(5, 0, 5), lv(5, 1, 0)}, 1.4, 50, []int{0, 0, 28}, []int{28, 44, 0}, []bool{false, false, false}, 100},
		{"3P degraded remainder", []Level{lv(5, 0, 0), lv(5, 0, 2), lv(5, 0, 1)}, 1.4, 0, []int{0, 0, 0}, []int{0, 67, 33}, []bool{false, false, false}, 84},
		{"3P degraded total panic", []Level{lv(5, 0, 0), lv(5, 0, 2), lv(5, 0, 1)}, 1.4, 50, []int{34, 33, 33}, []int{0, 0, 0}, []bool{true, true, true}, 84},
		{"3P empty P0 total panic", []Level{lv(0, 0, 0), lv(6, 0, 0), lv(3, 0, 0)}, 1.4, 50, []int{0, 67, 33}, []int{0, 0, 0}, []bool{true, true, true}, 0},
		// Overprovisioning 1.0 makes the load proportional to health.
		{"overprovisioning 1.0", []Level{lv(4, 2, 0), lv(4, 2, 0)}, 1.0, 50, []int{50, 50}, []int{0, 0}, []bool{false, false}, 100},
		{"overprovisioning default", []Level{lv(4, 2, 0), lv(4, 2, 0)}, 0, 50, []int{70, 30}, []int{0, 0}, []bool{false, false}, 100},
		// Nothing available and panic disabled: no load anywhere (503 UH).
		{"all unhealthy no panic", []Level{lv(3, 0, 0), lv(2, 0, 0)}, 1.4, 0, []int{0, 0}, []int{0, 0}, []bool{false, false}, 0},
		{"all unhealthy panic", []Level{lv(3, 0, 0)}, 1.4, 50, []int{100}, []int{0}, []bool{true}, 0},
		{"no hosts", []Level{lv(0, 0, 0), lv(0, 0, 0)}, 1.4, 50, []int{0, 0}, []int{0, 0}, []bool{false, false}, 0},
		{"no levels", nil, 1.4, 50, []int{}, []int{}, []bool{}, 0},
		// A threshold above 100 is treated as 100.
		{"threshold clamped", []Level{lv(10, 9, 0), lv(10, 0, 0)}, 1.4, 500, []int{100, 0}, []int{0, 0}, []bool{false, false}, 100},
		// Inconsistent counts are clamped: healthy first, then degraded.
		{"clamped census", []Level{lv(10, 20, 5)}, 1.4, 50, []int{100}, []int{0}, []bool{false}, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ComputeLoad(tc.levels, tc.ovp, tc.threshold)
			if !slices.Equal(got.Healthy, tc.healthy) || !slices.Equal(got.Degraded, tc.degraded) ||
				!slices.Equal(got.Panic, tc.panic) || got.NormalizedTotalHealth != tc.nth {
				t.Errorf("ComputeLoad = healthy %v degraded %v panic %v nth %d; want %v %v %v %d",
					got.Healthy, got.Degraded, got.Panic, got.NormalizedTotalHealth,
					tc.healthy, tc.degraded, tc.panic, tc.nth)
			}
		})
	}
}

// TestComputeLoadSums checks the invariant Envoy asserts: whenever traffic
// can go somewhere, the loads add up to exactly 100.
func TestComputeLoadSums(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	for i := range 20000 {
		levels := make([]Level, 1+rnd.IntN(5))
		hosts := 0
		for j := range levels {
			total := rnd.IntN(12)
			healthy := rnd.IntN(total + 1)
			levels[j] = lv(total, healthy, rnd.IntN(total-healthy+1))
			hosts += total
		}
		threshold := []int{0, 50, 100}[rnd.IntN(3)]
		ovp := []float64{1.0, 1.4, 2.0}[rnd.IntN(3)]
		ld := ComputeLoad(levels, ovp, threshold)
		sum := 0
		for p := range levels {
			if ld.Healthy[p] < 0 || ld.Degraded[p] < 0 {
				t.Fatalf("case %d %v: negative load %+v", i, levels, ld)
			}
			sum += ld.Healthy[p] + ld.Degraded[p]
		}
		want := 100
		if hosts == 0 || (ld.NormalizedTotalHealth == 0 && threshold == 0) {
			want = 0
		}
		if sum != want {
			t.Fatalf("case %d %v ovp %v threshold %d: loads sum to %d, want %d (%+v)",
				i, levels, ovp, threshold, sum, want, ld)
		}
	}
}

func TestLocalityWeights(t *testing.T) {
	// locality_weight.rst: X weight 1, Y weight 2 and fully available.
	// The documented percentages are the rounded shares of X; at 69% the
	// page's integer pseudo-code gives 32, Envoy's floating-point code
	// 32.57 (rounded 33), which is what is asserted here.
	tests := []struct {
		available int
		wantX     float64
		rounded   int
	}{
		{100, 1, 33},
		{70, 0.98, 33},
		{69, 0.966, 33},
		{50, 0.7, 26},
		{25, 0.35, 15},
		{0, 0, 0},
	}
	for _, tc := range tests {
		w := LocalityWeights([]LocalityHealth{
			{Weight: 1, Total: 100, Available: tc.available},
			{Weight: 2, Total: 100, Available: 100},
		}, DefaultOverprovisioningFactor)
		if d := w[0] - tc.wantX; d > 1e-12 || d < -1e-12 || w[1] != 2 {
			t.Errorf("available %d%%: weights %v, want [%v 2]", tc.available, w, tc.wantX)
		}
		share := 100 * w[0] / (w[0] + w[1])
		if got := int(share + 0.5); got != tc.rounded {
			t.Errorf("available %d%%: share of X %.2f%% rounds to %d, want %d", tc.available, share, got, tc.rounded)
		}
	}

	got := LocalityWeights([]LocalityHealth{
		{Weight: 0, Total: 3, Available: 3},   // weight 0: never chosen
		{Weight: 5, Total: 0, Available: 0},   // empty locality
		{Weight: 4, Total: 2, Available: 5},   // clamped to fully available
		{Weight: 10, Total: 10, Available: 5}, // 10 × min(1, 1.0 × 0.5)
	}, 1.0)
	if want := []float64{0, 0, 4, 5}; !slices.Equal(got, want) {
		t.Errorf("LocalityWeights edge cases = %v, want %v", got, want)
	}
}
